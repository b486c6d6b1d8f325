"""What the cross-process write safety costs one server: 4 KiB S3 PUT and GET ops/s of this tree
against an earlier commit (`--before`), on SQLite and PostgreSQL, measured in the same run.

The per-key locks, the retries and the SQLite memo's change-counter check (docs/scaling.md,
"One store, many processes") must not slow a single process down by more than 5 %. Each run
starts the earlier tree's server and this tree's server in turn, on a fresh store each, and
drives both with the same load generator, concurrency and duration; the figures are medians
of --runs runs and the ratio is this tree over the earlier one.

    python bench/one_store.py --before d8e92c4 [--runs 3] [--duration 8] [--engines sqlite,postgresql]
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from common import Row  # noqa: E402

BUCKET = "bench-one-store"
PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")
KEYS = 2000
READ_KEYS = 200


def new_pg_database() -> tuple[str, object]:
    import psycopg
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    name = f"kosha_bench_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop_pg_database(handle: object) -> None:
    admin, name = handle  # type: ignore[misc]
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def phase(kp: common.KoshaProc, reqs: list, args) -> tuple[float, float]:
    """(ops/s, server CPU microseconds per request) of one load phase."""
    common.wait_quiet(args.max_wait)
    before = common.cpu_seconds(kp.server.pid)
    result = loadgen.run_load(kp.s3_url, reqs, args.concurrency, args.duration, args.engine)
    used = common.cpu_seconds(kp.server.pid) - before
    if result.bad_status or result.errors:
        print(f"  !! {result.bad_status} answers >= 400, {result.errors} socket errors", flush=True)
    return result.ops, used / max(1, result.requests) * 1e6


def measure(tree: Path, engine: str, scratch: Path, args) -> dict[str, float]:
    """4 KiB PUT and GET ops/s, and the server's CPU per request, of the code in `tree`."""
    extra = {"PYTHONPATH": str(tree)}
    handle = None
    if engine == "postgresql":
        url, handle = new_pg_database()
        extra["KOSHA_DATABASE_URL"] = url
    data = scratch / f"data-{uuid.uuid4().hex[:8]}"
    kp = common.kosha_server(data, scratch, name=f"kosha-{tree.name}-{engine}", extra_env=extra)
    kp.server.cwd = str(tree)
    kp.server.env["PYTHONPATH"] = str(tree)
    try:
        kp.server.start()
        kp.load_credentials()
        sign = loadgen.s3_signer(kp.access_key, kp.secret_key, "In-Bangalore-1")
        make = sign("PUT", kp.s3_url, f"/{BUCKET}", b"")
        status, body = common.http_simple("PUT", kp.s3_url + make.path, None, make.headers)
        if status >= 300:
            raise RuntimeError(f"bucket creation answered {status}: {body[:200]!r}")
        keys = [f"k/{i:05d}" for i in range(KEYS)]
        data_4k = os.urandom(4096)
        puts = loadgen.s3_requests(kp.s3_url, kp.access_key, kp.secret_key, "PUT", BUCKET, keys,
                                   data_4k, region="In-Bangalore-1")
        put, put_cpu = phase(kp, puts, args)
        for req in puts[:READ_KEYS]:   # the load may not have reached every key
            common.http_simple(req.method, kp.s3_url + req.path, req.body, req.headers)
        gets = loadgen.s3_requests(kp.s3_url, kp.access_key, kp.secret_key, "GET", BUCKET,
                                   keys[:READ_KEYS], region="In-Bangalore-1")
        get, get_cpu = phase(kp, gets, args)
        return {"put": put, "get": get, "put_cpu": put_cpu, "get_cpu": get_cpu}
    finally:
        kp.server.stop()
        if handle is not None:
            drop_pg_database(handle)


def main() -> None:
    ap = common.base_parser(__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the commit to compare against")
    ap.add_argument("--engines", default="sqlite,postgresql")
    args = common.finish_args(ap.parse_args())
    if args.duration is None:
        args.duration = 8.0
    common.banner("One store, many processes: single-process cost")
    rows: list[Row] = []
    with common.scratch_dir(args, "one-store") as scratch:
        before = common.export_tree(args.before, scratch / "before")
        after = common.REPO
        for engine in args.engines.split(","):
            names = ("put", "get", "put_cpu", "get_cpu")
            figures: dict[str, list[float]] = {f"{n}_{t}": [] for n in names for t in "ba"}
            for run in range(args.runs):
                for label, tree in (("b", before), ("a", after)):
                    for name, value in measure(tree, engine, scratch, args).items():
                        figures[f"{name}_{label}"].append(value)
                print(f"  {engine} run {run + 1}: " + ", ".join(
                    f"{n} {figures[n + '_b'][-1]:.0f} -> {figures[n + '_a'][-1]:.0f}" for n in names),
                    flush=True)
            for op in ("put", "get"):
                ref = common.median(figures[f"{op}_b"])
                now = common.median(figures[f"{op}_a"])
                rows.append(Row(f"{engine} 4 KiB S3 {op.upper()} (before: {args.before})", now,
                                "ops/s", ref=common.fmt(ref), ratio=now / ref if ref else None,
                                target=">= 0.95x", ok=now >= 0.95 * ref if ref else None,
                                runs=figures[f"{op}_a"]))
                ref = common.median(figures[f"{op}_cpu_b"])
                now = common.median(figures[f"{op}_cpu_a"])
                rows.append(Row(f"{engine} server CPU per {op.upper()}", now, "us",
                                ref=common.fmt(ref), ratio=now / ref if ref else None,
                                target="<= 1.05x", ok=now <= 1.05 * ref if ref else None,
                                runs=figures[f"{op}_cpu_a"]))
    common.print_table(rows, f"single process, median of {args.runs}")
    common.write_json(args.json, {"rows": rows})


if __name__ == "__main__":
    main()
