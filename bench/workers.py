"""`kosha serve --workers 1` vs `--workers 2`: 4 KiB S3 PUT and GET ops/s, SQLite and PostgreSQL.

Issue 10's targets on this two-core machine: GET >= 1.6x one worker, PUT >= 1.3x. Each run starts
a fresh server per configuration (on PostgreSQL in a database made for it), writes the 256 keys
the GETs read, then drives 16 keep-alive clients with the load client of bench/loadgen.py (wrk
with a Lua script replaying pre-signed SigV4 requests: the cheapest client per request, which
matters when client and server share two cores). Configurations alternate within each run, so a
noisy neighbour hurts them alike; medians of the runs and their ratios to one worker are printed.

`--modes reuseport,shared` also measures the two ways the supervisor can hand the ports to its
workers (kosha/supervisor.py): one SO_REUSEPORT socket per worker, or one socket for all.

    python bench/workers.py                 # 3 runs, 8 s per load phase
    python bench/workers.py --quick         # 1 run, 2 s phases
    python bench/workers.py --databases sqlite --modes reuseport,shared
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402

REGION = "In-Bangalore-1"
BUCKET = "bench"
BODY = os.urandom(4096)
GET_KEYS = [f"g/{i:04d}" for i in range(256)]
PUT_KEYS = [f"p/{i:05d}" for i in range(4000)]
PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def _database(kind: str) -> tuple[dict[str, str], object]:
    """Environment for the server, and what to drop afterwards."""
    if kind == "sqlite":
        return {}, None
    import psycopg
    name = f"kosha_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return {"KOSHA_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name}, (admin, name)


def _drop(handle: object) -> None:
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def measure(kind: str, workers: int, mode: str, args, tmp: Path, tag: str) -> dict[str, float]:
    env, handle = _database(kind)
    env.update({"KOSHA_WORKERS": str(workers), "KOSHA_LISTEN_MODE": mode,
                "KOSHA_ACCESS_LOG": "off"})
    k = common.kosha_server(tmp / f"data-{tag}", tmp, f"kosha-{tag}", extra_env=env)
    try:
        k.server.start()
        k.load_credentials()
        create = loadgen.s3_signer(k.access_key, k.secret_key, REGION)(
            "PUT", k.s3_url, f"/{BUCKET}")
        status, body = common.http_simple("PUT", k.s3_url + f"/{BUCKET}", None, create.headers)
        if status != 200:
            raise RuntimeError(f"create bucket -> {status}: {body[:200]!r}")
        made = loadgen.run_count(k.s3_url, loadgen.s3_requests(
            k.s3_url, k.access_key, k.secret_key, "PUT", BUCKET, GET_KEYS, BODY, REGION), 16)
        if made[0] != len(GET_KEYS):
            raise RuntimeError(f"created {made[0]}/{len(GET_KEYS)} keys: {made[1][:2]}")
        out = {}
        for what, method, keys, body in (("put", "PUT", PUT_KEYS, BODY),
                                         ("get", "GET", GET_KEYS, b"")):
            if args.max_wait:
                common.wait_quiet(args.max_wait, quiet=True)
            reqs = loadgen.s3_requests(k.s3_url, k.access_key, k.secret_key, method, BUCKET,
                                       keys, body, REGION)
            result = loadgen.run_load(k.s3_url, reqs, args.concurrency, args.duration,
                                      args.engine)
            if result.bad_status or result.errors:
                print(f"   !! {tag} {what}: {result.bad_status} bad statuses, "
                      f"{result.errors} errors", flush=True)
            out[what] = result.ops
            out[what + "_p99"] = result.p99_ms
        return out
    finally:
        k.server.stop()
        _drop(handle)


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--modes", default="reuseport",
                        help="socket hand-over modes measured with 2 workers: reuseport,shared")
    args = common.finish_args(parser.parse_args())
    common.banner("kosha serve --workers 1 vs 2: 4 KiB S3 PUT/GET ops/s, "
                  f"{args.concurrency} clients, {args.duration:g} s phases, "
                  f"engine {loadgen.pick_engine(args.engine)}")
    configs = [(db, 1, "reuseport") for db in args.databases.split(",")]
    configs += [(db, 2, m) for db in args.databases.split(",") for m in args.modes.split(",")]
    results: dict[tuple, dict[str, list[float]]] = {c: {} for c in configs}
    with common.scratch_dir(args, "workers-") as tmp:
        for run in range(args.runs):
            for config in configs:
                kind, workers, mode = config
                tag = f"{kind}-{workers}-{mode}-{run}"
                try:
                    got = measure(kind, workers, mode, args, tmp, tag)
                except Exception as exc:   # noqa: BLE001  one failed run must not lose the rest
                    print(f"   !! {tag}: {exc}", flush=True)
                    continue
                for name, value in got.items():
                    results[config].setdefault(name, []).append(value)
                print(f"   run {run + 1} {kind:8} workers={workers} {mode:9} "
                      f"PUT {got['put']:7.0f}/s  GET {got['get']:7.0f}/s", flush=True)
    rows = []
    for db in args.databases.split(","):
        base = results.get((db, 1, "reuseport"), {})
        for what, target in (("put", 1.3), ("get", 1.6)):
            one = common.median(base.get(what, [])) if base.get(what) else None
            rows.append(common.Row(f"{db} 4 KiB {what.upper()} --workers 1", one, "ops/s",
                                   runs=base.get(what, [])))
            for mode in args.modes.split(","):
                figures = results.get((db, 2, mode), {}).get(what, [])
                two = common.median(figures) if figures else None
                ratio = two / one if two and one else None
                rows.append(common.Row(
                    f"{db} 4 KiB {what.upper()} --workers 2 ({mode})", two, "ops/s",
                    ref=f"{common.fmt(one)} ops/s (1 worker)", ratio=ratio,
                    target=f">= {target}x", ok=common.check(ratio, ">=", target), runs=figures))
    common.print_table(rows, "median of runs; ratio = 2 workers / 1 worker, same run set")
    print(common.markdown_table(rows))
    common.write_json(args.json, {"rows": [r.__dict__ for r in rows],
                                  "raw": {"/".join(map(str, c)): v for c, v in results.items()}})


if __name__ == "__main__":
    main()
