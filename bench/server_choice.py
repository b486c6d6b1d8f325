"""How the HTTP server and the download chunk size were chosen.

Serves the same bare reference app (bench/reference_app.py, one worker, uvloop)
under uvicorn (httptools), granian (ASGI, HTTP/1) and hypercorn, and measures:

  - 256 MiB upload (PUT /upload: MD5 + fsync), MB/s
  - 256 MiB download (GET /file, 1 MiB chunks), MB/s
  - 4 KiB GET and 4 KiB PUT (fsync) ops/s, p50/p99, 16 keep-alive clients (bench/loadgen.py)
  - download chunk size 64 KiB / 256 KiB / 1 MiB / 4 MiB (under uvicorn, and granian)

All servers stay up for the whole run and the runs are interleaved, so a noisy
neighbour hits every target alike.  Prints medians and ratios to uvicorn.

    python bench/server_choice.py [--runs 3] [--quick] [--servers uvicorn,granian,hypercorn]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from common import MiB, Row  # noqa: E402


def main() -> None:
    ap = common.base_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default="uvicorn,granian,hypercorn")
    ap.add_argument("--chunk-servers", default="uvicorn,granian",
                    help="servers on which the download chunk size is varied")
    args = common.finish_args(ap.parse_args())
    size = (32 if args.quick else 256) * MiB
    servers = [s for s in args.servers.split(",") if s]
    chunks = [64 << 10, 256 << 10, 1 << 20, 4 << 20]
    common.banner(f"server choice: bare reference app, {size // MiB} MiB objects, "
                  f"{args.concurrency} clients x {args.duration:g}s, median of {args.runs}")

    with common.scratch_dir(args, "server-choice-") as tmp:
        running: dict[str, common.Server] = {}
        try:
            for s in servers:
                srv = common.ref_app(s, tmp / f"data-{s}", tmp)
                try:
                    running[s] = srv.start()
                except Exception as e:  # noqa: BLE001
                    print(f"!! {s} did not start: {e}")
            base = {s: srv.health_url.rsplit("/", 1)[0] for s, srv in running.items()}
            up: dict[str, list] = {s: [] for s in running}
            down: dict[str, list] = {s: [] for s in running}
            ck: dict[tuple, list] = {}
            get_ops: dict[str, list] = {s: [] for s in running}
            put_ops: dict[str, list] = {s: [] for s in running}
            lat: dict[str, list] = {s: [] for s in running}
            body4k = os.urandom(4096)
            for run in range(args.runs):
                for s, b in base.items():
                    if args.max_wait:
                        common.wait_quiet(args.max_wait)
                    os.sync()
                    t = common.stream_upload(f"{b}/upload/big", common.pattern_chunks(size), size)
                    assert t.status == 200, (s, t.status, t.body)
                    up[s].append(t.mbps)
                    t = common.stream_download(f"{b}/file/big")
                    assert t.status == 200 and t.nbytes == size, (s, t.status, t.nbytes)
                    down[s].append(t.mbps)
                    for c in chunks if s in args.chunk_servers.split(",") else []:
                        t = common.stream_download(f"{b}/file/big?chunk={c}")
                        assert t.nbytes == size
                        ck.setdefault((s, c), []).append(t.mbps)
                    r = loadgen.run_load(b, loadgen.plain_requests("GET", ["/small"]),
                                         args.concurrency, args.duration, args.engine)
                    get_ops[s].append(r.ops)
                    lat[s].append(("GET", r.p50_ms, r.p99_ms))
                    r2 = loadgen.run_load(
                        b, loadgen.plain_requests("PUT", [f"/small/k{i}" for i in range(2000)],
                                                  body4k),
                        args.concurrency, args.duration, args.engine)
                    put_ops[s].append(r2.ops)
                    lat[s].append(("PUT", r2.p50_ms, r2.p99_ms))
                    print(f"  run {run + 1} {s:9s} up {up[s][-1]:7.0f} MB/s  "
                          f"down {down[s][-1]:7.0f} MB/s  GET {r.line()}", flush=True)
                    print(f"  {'':15s} PUT {r2.line()}", flush=True)
        finally:
            for srv in running.values():
                srv.stop()

    ref = "uvicorn" if "uvicorn" in up else next(iter(up), None)
    rows: list[Row] = []

    def add(metric, unit, data, key):
        v = common.median(data[key])
        r = common.median(data[ref]) if ref in data else None
        rows.append(Row(metric, v, unit, ref=f"uvicorn {common.fmt(r)}" if r else "",
                        ratio=common.paired_ratio(data[key], data[ref]) if r else None,
                        runs=data[key]))

    for s in up:
        add(f"{s}: 256 MiB upload MD5+fsync" if not args.quick else f"{s}: upload MD5+fsync",
            "MB/s", up, s)
    for s in down:
        add(f"{s}: download 1 MiB chunks", "MB/s", down, s)
    for s in get_ops:
        add(f"{s}: 4 KiB GET", "ops/s", get_ops, s)
    for s in put_ops:
        add(f"{s}: 4 KiB PUT+fsync", "ops/s", put_ops, s)
    common.print_table(rows, "servers (ratio = server / uvicorn, median of per-run ratios)")

    for s in lat:
        g = [x for x in lat[s] if x[0] == "GET"]
        p = [x for x in lat[s] if x[0] == "PUT"]
        print(f"   {s:9s} latency GET p50 {common.median([x[1] for x in g]):.2f} ms "
              f"p99 {common.median([x[2] for x in g]):.2f} ms | PUT p50 "
              f"{common.median([x[1] for x in p]):.2f} ms p99 {common.median([x[2] for x in p]):.2f} ms")

    crow: list[Row] = []
    for s in args.chunk_servers.split(","):
        one = ck.get((s, 1 << 20))
        for c in chunks:
            if (s, c) not in ck:
                continue
            v = common.median(ck[(s, c)])
            r = common.median(one) if one else None
            crow.append(Row(f"{s}: download, {c >> 10} KiB chunks", v, "MB/s",
                            ref=f"1 MiB {common.fmt(r)}" if r else "",
                            ratio=common.paired_ratio(ck[(s, c)], one) if r else None,
                            runs=ck[(s, c)]))
    common.print_table(crow, "download chunk size (ratio = chunk / 1 MiB chunk)")
    common.write_json(args.json, {"servers": rows, "chunks": crow})


if __name__ == "__main__":
    main()
