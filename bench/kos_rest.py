"""Kosha KOS REST API throughput vs the bare reference app, measured in one run.

Starts `python -m kosha serve --data <tmp> --port P --s3-port Q` and the reference
app (bench/reference_app.py under uvicorn, uvloop + httptools, one worker), then
prints, as medians of --runs runs, each beside its target:

  dd bs=1M count=256 conv=fdatasync on the same disk                MB/s
  REST upload 256 MiB (streamed multipart)  vs ref MD5+fsync upload  >= 0.90x   (and vs no-MD5)
  REST download 256 MiB                     vs ref 1 MiB-chunk GET   >= 0.65x
  4 KiB download ops/s, 16 clients          vs ref GET /small        >= 0.35x
  4 KiB upload ops/s, 16 clients            vs ref PUT /small (fsync) >= 1.20x (issue 8: group commit)
  4 KiB upload of new keys, 16 clients      vs ref PUT of new files   (every PUT a key not written
                                             before; the row above overwrites 2,000 keys in turn)
  copy and rename of a 1 GiB object                                  < 20 ms
  server peak RSS growth during the 256 MiB upload                   < 64 MiB

    python bench/kos_rest.py [--runs 3] [--quick] [--engine wrk|aiohttp]

The REST upload here is framed by this script's own client (1 MiB writes); how fast a form
upload goes depends on the client, so bench/form_upload.py measures curl -F, requests, httpx,
krutrim-client and a browser against the same reference.

A failing API call does not stop the run: the figure shows n/a and the failed
calls are listed at the end.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from common import MiB, Row  # noqa: E402

BUCKET = "bench-bucket"
REGION = "In-Bangalore-1"
BOUNDARY = "koshabench0d1e2f3a4b5c6d7e8f"
API = "/kos/v1"


def multipart_envelope(key: str, prefix: str | None = None) -> tuple[bytes, bytes]:
    """(head, tail) around the file bytes of a multipart/form-data body with one `file` field."""
    head = b""
    if prefix is not None:
        head += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"prefix\"\r\n\r\n"
                 f"{prefix}\r\n").encode()
    head += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"{key}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


class Kos:
    """Minimal KOS REST client (http.client) for the benchmark."""

    def __init__(self, base: str):
        self.base = base
        self.token = ""

    def hdrs(self, **extra) -> dict:
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        h.update(extra)
        return h

    def call(self, method: str, path: str, obj=None) -> tuple[int, object]:
        return common.http_json(method, self.base + API + path, obj, self.hdrs())

    def activate(self, ak: str, sk: str) -> None:
        st, body = common.http_json("POST", self.base + API + "/sessions/activate",
                                    {"accessKey": ak, "secretKey": sk})
        if st != 200 or not isinstance(body, dict) or "sessionToken" not in body:
            raise RuntimeError(f"POST /sessions/activate -> {st}: {body}")
        self.token = body["sessionToken"]

    def create_bucket(self, name: str, region: str) -> None:
        st, body = self.call("POST", "/buckets", {"name": name, "region": region})
        if st not in (200, 201):
            raise RuntimeError(f"POST /buckets -> {st}: {body}")

    def upload(self, bucket: str, key: str, size: int) -> common.Transfer:
        head, tail = multipart_envelope(key)

        def body():
            yield head
            yield from common.pattern_chunks(size)
            yield tail

        t = common.stream_upload(
            f"{self.base}{API}/buckets/{bucket}/objects", body(), len(head) + size + len(tail),
            headers=self.hdrs(**{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}))
        t.nbytes = size
        if t.status not in (200, 201):
            raise RuntimeError(f"PUT /buckets/{bucket}/objects ({size} B) -> {t.status}: "
                               f"{t.body[:300]!r}")
        return t

    def download_args(self, bucket: str, key: str) -> tuple[str, bytes, dict]:
        return (f"{API}/buckets/{bucket}/objects/download", json.dumps({"objectkey": key}).encode(),
                self.hdrs(**{"Content-Type": "application/json",
                             "Accept": "application/octet-stream"}))

    def download(self, bucket: str, key: str, expect: int) -> common.Transfer:
        path, body, h = self.download_args(bucket, key)
        t = common.stream_download(self.base + path, method="POST", body=body, headers=h)
        if t.status != 200 or t.nbytes != expect:
            raise RuntimeError(f"POST /buckets/{bucket}/objects/download -> {t.status}, "
                               f"{t.nbytes} B (expected {expect}): {t.body[:300]!r}")
        return t

    def download_md5(self, bucket: str, key: str) -> str:
        import http.client
        path, body, h = self.download_args(bucket, key)
        c = http.client.HTTPConnection(common.HOST, common.port_of(self.base), timeout=600)
        try:
            c.request("POST", path, body=body, headers=h)
            r = c.getresponse()
            md5 = hashlib.md5()
            while chunk := r.read(MiB):
                md5.update(chunk)
            return md5.hexdigest()
        finally:
            c.close()

    def timed(self, path: str, obj: dict) -> float:
        t0 = time.perf_counter()
        st, body = self.call("POST", path, obj)
        dt = (time.perf_counter() - t0) * 1000
        if st not in (200, 201):
            raise RuntimeError(f"POST {path} {obj} -> {st}: {body}")
        return dt

    def small_upload_reqs(self, bucket: str, keys: list[str], data: bytes) -> list[loadgen.Req]:
        out = []
        for k in keys:
            head, tail = multipart_envelope(k)
            out.append(loadgen.Req("PUT", f"{API}/buckets/{bucket}/objects",
                                   self.hdrs(**{"Content-Type":
                                                f"multipart/form-data; boundary={BOUNDARY}"}),
                                   head + data + tail))
        return out

    def small_download_reqs(self, bucket: str, keys: list[str]) -> list[loadgen.Req]:
        out = []
        for k in keys:
            path, body, h = self.download_args(bucket, k)
            out.append(loadgen.Req("POST", path, h, body))
        return out


def small_objects_session(kp: common.KoshaProc) -> tuple[Kos, bytes, list[str]]:
    """A root session on a started Kosha with BUCKET created, a 4 KiB body and 256 key names:
    what the 4 KiB profiles and per-thread CPU figures start from."""
    kp.load_credentials()
    kos = Kos(kp.kos_url)
    kos.activate(kp.access_key, kp.secret_key)
    kos.create_bucket(BUCKET, REGION)
    return kos, os.urandom(4096), [f"p-{i:04d}" for i in range(256)]


def expected_md5(size: int) -> str:
    h = hashlib.md5()
    for c in common.pattern_chunks(size):
        h.update(c)
    return h.hexdigest()


def main() -> None:
    ap = common.base_parser("Kosha KOS REST API vs the bare reference app")
    ap.add_argument("--copy-size-mib", type=int, default=None,
                    help="object size for copy/rename (default 1024, 64 with --quick)")
    args = common.finish_args(ap.parse_args())
    size = (32 if args.quick else 256) * MiB
    copy_size = (args.copy_size_mib or (64 if args.quick else 1024)) * MiB
    conc, dur = args.concurrency, args.duration
    common.banner(f"Kosha KOS REST vs reference app: {size // MiB} MiB objects, 4 KiB x "
                  f"{conc} clients x {dur:g}s ({loadgen.pick_engine(args.engine)}), copy/rename "
                  f"{copy_size // MiB} MiB, median of {args.runs}")
    attempt = common.Attempts()
    failures = attempt.failures

    R: dict[str, list] = {k: [] for k in (
        "dd", "ref_up", "ref_up_nomd5", "kos_up", "ref_down", "kos_down", "ref_get", "kos_get",
        "ref_put", "kos_put", "copy", "rename", "rss", "ref_rss", "ref_get_cpu", "kos_get_cpu",
        "ref_put_cpu", "kos_put_cpu", "ref_new", "kos_new", "ref_new_cpu", "kos_new_cpu")}
    lat: dict[str, list] = {}

    with common.scratch_dir(args, "kos-rest-") as tmp:
        ref = common.ref_app("uvicorn", tmp / "ref", tmp, "ref-uvicorn")
        kp = common.kosha_server(tmp / "kosha", tmp)
        with ref:
            try:
                kp.server.start()
            except RuntimeError as e:
                print(f"!! Kosha did not start: {e}")
                failures.append(f"kosha serve: {str(e)[:300]}")
                kp = None
            rb = ref.health_url.rsplit("/", 1)[0]
            kos = None
            if kp:
                kp.load_credentials()
                kos = Kos(kp.kos_url)
                if attempt("activate session / create bucket", _setup, kos, kp) is None:
                    kos = None
            md5_big = expected_md5(size)
            body4k = os.urandom(4096)
            ref_put = loadgen.plain_requests("PUT", [f"/small/u-k{i}" for i in range(2000)], body4k)
            ref_get = loadgen.plain_requests("GET", ["/small"])
            kos_put = kos_get = None
            if kos:
                kos_put = kos.small_upload_reqs(BUCKET, [f"u-k{i}" for i in range(2000)], body4k)
                get_keys = [f"s-k{i}" for i in range(256)]
                made = attempt("create 4 KiB objects", loadgen.run_count, kp.kos_url,
                               kos.small_upload_reqs(BUCKET, get_keys, body4k), conc)
                if made and made[0] == len(get_keys):
                    kos_get = kos.small_download_reqs(BUCKET, get_keys)
                elif made:
                    failures.append(f"4 KiB upload: {made[0]}/{len(get_keys)} ok, e.g. {made[1][:2]}")
                    print(f"  !! {failures[-1]}")
            copy_src = None
            if kos:
                t = attempt(f"upload {copy_size // MiB} MiB (copy source)", kos.upload, BUCKET,
                            "copy-src.bin", copy_size)
                if t:
                    copy_src = "copy-src.bin"
                    print(f"  copy source uploaded: {t.mbps:.0f} MB/s")

            for run in range(args.runs):
                if args.max_wait:
                    common.wait_quiet(args.max_wait)
                R["dd"].append(common.dd_mbps(tmp))
                os.sync()
                with common.RssSampler(ref.pid) as rs:
                    t = common.stream_upload(f"{rb}/upload/big", common.pattern_chunks(size), size)
                assert t.status == 200 and json.loads(t.body)["md5"] == md5_big, t.body
                R["ref_up"].append(t.mbps)
                R["ref_rss"].append(rs.growth_mib)
                os.sync()
                t = common.stream_upload(f"{rb}/upload-nomd5/big2", common.pattern_chunks(size),
                                         size)
                R["ref_up_nomd5"].append(t.mbps)
                common.drop_file(tmp / "ref" / "big2")
                if kos:
                    os.sync()
                    with common.RssSampler(kp.server.pid) as rs:
                        t = attempt("REST upload 256 MiB", kos.upload, BUCKET, "big.bin", size)
                    if t:
                        R["kos_up"].append(t.mbps)
                        R["rss"].append(rs.growth_mib)
                t = common.stream_download(f"{rb}/file/big")
                assert t.nbytes == size
                R["ref_down"].append(t.mbps)
                if kos and R["kos_up"]:
                    t = attempt("REST download 256 MiB", kos.download, BUCKET, "big.bin", size)
                    if t:
                        R["kos_down"].append(t.mbps)
                    if run == 0:
                        got = attempt("REST download md5 check", kos.download_md5, BUCKET,
                                      "big.bin")
                        if got and got != md5_big:
                            failures.append(f"REST download returned wrong bytes (md5 {got}, "
                                            f"expected {md5_big})")
                            print(f"  !! {failures[-1]}")
                # small objects: same engine, same concurrency for both targets
                if args.max_wait:
                    common.wait_quiet(args.max_wait)
                r = loadgen.run_load(rb, ref_put, conc, dur, args.engine, server_pid=ref.pid)
                R["ref_put"].append(r.ops)
                R["ref_put_cpu"].append(r.server_cpu_us)
                lat.setdefault("ref PUT /small/{k} (fsync)", []).append(r)
                if kos_put:
                    r = attempt("4 KiB REST upload load", loadgen.run_load, kp.kos_url, kos_put,
                                conc, dur, args.engine, server_pid=kp.server.pid)
                    if r:
                        R["kos_put"].append(r.ops)
                        R["kos_put_cpu"].append(r.server_cpu_us)
                        lat.setdefault("REST 4 KiB upload", []).append(r)
                _new_keys_phase(R, lat, run, ref, rb, kp if kos_put else None, kos, body4k, conc,
                                dur, args.engine, attempt)
                r = loadgen.run_load(rb, ref_get, conc, dur, args.engine, server_pid=ref.pid)
                R["ref_get"].append(r.ops)
                R["ref_get_cpu"].append(r.server_cpu_us)
                lat.setdefault("ref GET /small", []).append(r)
                if kos_get:
                    r = attempt("4 KiB REST download load", loadgen.run_load, kp.kos_url, kos_get,
                                conc, dur, args.engine, server_pid=kp.server.pid)
                    if r:
                        R["kos_get"].append(r.ops)
                        R["kos_get_cpu"].append(r.server_cpu_us)
                        lat.setdefault("REST 4 KiB download", []).append(r)
                if copy_src:
                    ms = attempt("copy", kos.timed, f"/buckets/{BUCKET}/objects/move",
                                 {"sourceKey": copy_src, "destinationKey": f"copy-{run}.bin",
                                  "action": "copy"})
                    if ms is not None:
                        R["copy"].append(ms)
                        ms = attempt("rename", kos.timed, f"/buckets/{BUCKET}/objects/rename",
                                     {"oldKey": f"copy-{run}.bin", "newKey": f"renamed-{run}.bin"})
                        if ms is not None:
                            R["rename"].append(ms)
                line = (f"  run {run + 1}: dd {R['dd'][-1]:.0f}  ref up {R['ref_up'][-1]:.0f} "
                        f"(no-md5 {R['ref_up_nomd5'][-1]:.0f})  ref down {R['ref_down'][-1]:.0f}")
                if kos:
                    line += (f" | kosha up {_last(R['kos_up'])} down {_last(R['kos_down'])} MB/s, "
                             f"4K up {_last(R['kos_put'])} / ref {_last(R['ref_put'])}, "
                             f"4K down {_last(R['kos_get'])} / ref {_last(R['ref_get'])} ops/s, "
                             f"copy {_last(R['copy'], 1)} rename {_last(R['rename'], 1)} ms, "
                             f"RSS +{_last(R['rss'], 1)} MiB")
                print(line, flush=True)
            if kp:
                kp.server.stop()
                log_errors = [ln for ln in kp.server.log_tail(400).splitlines()
                              if "Traceback" in ln or "ERROR" in ln or "Error" in ln]
                if log_errors:
                    print(f"  server log has {len(log_errors)} error lines, last: {log_errors[-1][:200]}")

    rows = table(R, size, copy_size)
    common.print_table(rows, f"Kosha KOS REST (median of {args.runs}; "
                             "MB/s = 10^6 B/s; RSS = max over runs)")
    for name, rs in lat.items():
        print(f"   {name:30s} p50 {common.median([r.p50_ms for r in rs]):6.2f} ms   "
              f"p99 {common.median([r.p99_ms for r in rs]):6.2f} ms   "
              f"errors {sum(r.errors for r in rs)}, status>=400 {sum(r.bad_status for r in rs)}")
    if failures:
        print("\nFailed calls:")
        for f in failures:
            print(f"  - {f}")
    common.write_json(args.json, {"rows": rows, "failures": failures})


NEW_KEYS_PER_SECOND = 7000   # more than either server writes: no key comes round twice


def _new_keys_phase(R: dict, lat: dict, run: int, ref: common.Server, rb: str,
                    kp: common.KoshaProc | None, kos: "Kos | None", body: bytes, conc: int,
                    dur: float, engine: str, attempt: common.Attempts) -> None:
    """4 KiB uploads of keys not written before (a file created, a row inserted), beside the
    overwrites of the 2,000 keys: Kosha rewrites an overwritten key's row in place."""
    n = int(dur * NEW_KEYS_PER_SECOND)
    keys = [f"n{run}-k{i}" for i in range(n)]
    r = loadgen.run_load(rb, loadgen.plain_requests("PUT", [f"/small/{k}" for k in keys], body),
                         conc, dur, engine, server_pid=ref.pid)
    R["ref_new"].append(r.ops)
    R["ref_new_cpu"].append(r.server_cpu_us)
    lat.setdefault("ref PUT new files (fsync)", []).append(r)
    if kp is None or kos is None:
        return
    r = attempt("4 KiB REST upload of new keys", loadgen.run_load, kp.kos_url,
                kos.small_upload_reqs(BUCKET, keys, body), conc, dur, engine,
                server_pid=kp.server.pid)
    if r:
        if r.requests > n:
            print(f"  !! new keys came round: {r.requests} uploads of {n} keys")
        R["kos_new"].append(r.ops)
        R["kos_new_cpu"].append(r.server_cpu_us)
        lat.setdefault("REST 4 KiB upload, new keys", []).append(r)


def _setup(kos: "Kos", kp: common.KoshaProc) -> bool:
    kos.activate(kp.access_key, kp.secret_key)
    kos.create_bucket(BUCKET, REGION)
    return True


def _last(xs: list, digits: int = 0) -> str:
    return f"{xs[-1]:.{digits}f}" if xs else "n/a"


def _cpu_row(what: str, R: dict, kosha: str, ref: str) -> Row:
    """Server CPU per request; ratio = the bare app's / Kosha's, the throughput ratio a machine
    whose cores are all busy would give (what ops/s cannot show on a loaded box)."""
    return Row(f"REST {what}, server CPU/request", common.median(R[kosha]) if R[kosha] else None,
               "us", ref=f"ref {common.fmt(common.median(R[ref]) if R[ref] else None)}",
               ratio=common.paired_ratio(R[ref], R[kosha]), runs=R[kosha])


def table(R: dict, size: int, copy_size: int) -> list[Row]:
    med = {k: common.median(v) for k, v in R.items()}

    def ratio(a, b):
        return common.paired_ratio(R[a], R[b])

    big = f"{size // MiB} MiB"
    rows = [
        Row(f"dd {big} fdatasync (same disk)", med["dd"], "MB/s", runs=R["dd"]),
        Row(f"ref upload {big} MD5+fsync", med["ref_up"], "MB/s", runs=R["ref_up"]),
        Row(f"ref upload {big} no MD5", med["ref_up_nomd5"], "MB/s", runs=R["ref_up_nomd5"]),
        Row(f"REST upload {big}", med["kos_up"] if R["kos_up"] else None, "MB/s",
            ref=f"MD5+fsync {common.fmt(med['ref_up'])}", ratio=ratio("kos_up", "ref_up"),
            target=">= 0.90x", ok=common.check(ratio("kos_up", "ref_up"), ">=", 0.90),
            runs=R["kos_up"]),
        Row(f"REST upload {big} vs no-MD5", med["kos_up"] if R["kos_up"] else None, "MB/s",
            ref=f"no-MD5 {common.fmt(med['ref_up_nomd5'])}",
            ratio=ratio("kos_up", "ref_up_nomd5")),
        Row(f"ref download {big} 1 MiB chunks", med["ref_down"], "MB/s", runs=R["ref_down"]),
        Row(f"REST download {big}", med["kos_down"] if R["kos_down"] else None, "MB/s",
            ref=f"ref {common.fmt(med['ref_down'])}", ratio=ratio("kos_down", "ref_down"),
            target=">= 0.65x", ok=common.check(ratio("kos_down", "ref_down"), ">=", 0.65),
            runs=R["kos_down"]),
        Row("ref 4 KiB GET /small", med["ref_get"], "ops/s", runs=R["ref_get"]),
        Row("REST 4 KiB download", med["kos_get"] if R["kos_get"] else None, "ops/s",
            ref=f"ref {common.fmt(med['ref_get'])}", ratio=ratio("kos_get", "ref_get"),
            target=">= 0.35x", ok=common.check(ratio("kos_get", "ref_get"), ">=", 0.35),
            runs=R["kos_get"]),
        Row("ref 4 KiB PUT (fsync)", med["ref_put"], "ops/s", runs=R["ref_put"]),
        Row("REST 4 KiB upload", med["kos_put"] if R["kos_put"] else None, "ops/s",
            ref=f"ref {common.fmt(med['ref_put'])}", ratio=ratio("kos_put", "ref_put"),
            target=">= 1.20x", ok=common.check(ratio("kos_put", "ref_put"), ">=", 1.20),
            runs=R["kos_put"]),
        Row("ref 4 KiB PUT, new files (fsync)", med["ref_new"], "ops/s", runs=R["ref_new"]),
        Row("REST 4 KiB upload, new keys", med["kos_new"] if R["kos_new"] else None, "ops/s",
            ref=f"ref {common.fmt(med['ref_new'])}", ratio=ratio("kos_new", "ref_new"),
            runs=R["kos_new"]),
        _cpu_row("4 KiB download", R, "kos_get_cpu", "ref_get_cpu"),
        _cpu_row("4 KiB upload", R, "kos_put_cpu", "ref_put_cpu"),
        _cpu_row("4 KiB upload, new keys", R, "kos_new_cpu", "ref_new_cpu"),
        Row(f"copy {copy_size // MiB} MiB object", med["copy"] if R["copy"] else None, "ms",
            target="< 20 ms", ok=common.check(med["copy"] if R["copy"] else None, "<", 20),
            runs=R["copy"]),
        Row(f"rename {copy_size // MiB} MiB object", med["rename"] if R["rename"] else None, "ms",
            target="< 20 ms", ok=common.check(med["rename"] if R["rename"] else None, "<", 20),
            runs=R["rename"]),
        Row(f"server RSS growth, {big} upload", max(R["rss"]) if R["rss"] else None, "MiB",
            ref=f"ref app {common.fmt(max(R['ref_rss']) if R['ref_rss'] else None)}",
            target="< 64 MiB", ok=common.check(max(R["rss"]) if R["rss"] else None, "<", 64),
            runs=R["rss"]),
    ]
    return rows


if __name__ == "__main__":
    main()
