"""Kosha on PostgreSQL with `--blobs s3://` on a Ceph RGW, against that RGW's own S3 API.

The same client (boto3, default settings) does the same work against both in the same run:
- a 256 MiB upload with `upload_fileobj` (boto3's default transfer: 8 MiB parts, 10 threads),
  and a 256 MiB single `put_object` (Kosha streams it into one multipart upload to RGW);
- 4 KiB GETs from `--concurrency` threads for `--duration` seconds.
Each figure is the median of --runs, with Kosha's ratio to RGW's own paired per run (targets:
upload >= 0.70x, 4 KiB GET >= 0.50x; issue 10). Also printed: the CPU seconds Kosha's processes
and RGW's daemons spent per upload (a measure the machine's other load disturbs far less than
throughput), and the load average before each run.

    python bench/rgw.py                   # starts RGW (scripts/ceph-rgw) and Kosha itself
    python bench/rgw.py --quick           # 32 MiB, 2 s phases, 1 run
    python bench/rgw.py --baseline PATH   # also Kosha from an older checkout, in the same run
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (MiB, REPO, Row, banner, base_parser, check, cpu_seconds,  # noqa: E402
                    finish_args, free_port, kosha_server, median, paired_ratio, print_table,
                    scratch_dir, spread, wait_quiet, write_json)

PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def client(endpoint: str, key: str, secret: str, region: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name=region)


def upload_rate(s3: Any, bucket: str, data: bytes, single: bool,
                cpu: dict[str, list[int]], spent: dict[str, list[float]]) -> float:
    """MB/s of one upload; appends the CPU seconds each of `cpu`'s groups of process trees spent."""
    key = f"big-{uuid.uuid4().hex[:8]}"
    before = {name: sum(map(cpu_seconds, pids)) for name, pids in cpu.items()}
    start = time.perf_counter()
    if single:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    else:
        s3.upload_fileobj(io.BytesIO(data), bucket, key)
    rate = len(data) / (time.perf_counter() - start) / 1e6
    for name, pids in cpu.items():
        spent[name].append(sum(map(cpu_seconds, pids)) - before[name])
    s3.delete_object(Bucket=bucket, Key=key)
    return rate


def rgw_pids(ceph_dir: Path) -> list[int]:
    """The cluster's daemons (monitor, OSD, radosgw): RGW's side of the work."""
    return [int(f.read_text()) for f in (ceph_dir / "run").glob("*.pid")]


def small_get_rate(make_client: Any, bucket: str, threads: int, seconds: float) -> float:
    keys = [f"small-{i}" for i in range(64)]
    s3 = make_client()
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=os.urandom(4096))
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def run(n: int) -> None:
        c = make_client()
        c.get_object(Bucket=bucket, Key=keys[0])["Body"].read()     # connection warm
        i = n
        while time.perf_counter() < stop:
            c.get_object(Bucket=bucket, Key=keys[i % len(keys)])["Body"].read()
            counts[n] += 1
            i += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> int:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--mib", type=int, default=256)
    p.add_argument("--baseline", default=None,
                   help="another checkout, run beside this one (its own database and blob bucket)")
    args = finish_args(p.parse_args())
    if args.quick:
        args.mib = 32
    trees = {"kosha": REPO, **({"baseline": Path(args.baseline).resolve()} if args.baseline else {})}
    import psycopg

    with scratch_dir(args, "rgw-") as tmp:
        ceph_dir = tmp / "ceph"
        started = subprocess.run([str(REPO / "scripts" / "ceph-rgw"), "start", str(ceph_dir),
                                  str(free_port()), str(free_port())],
                                 capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            print(f"RGW did not start: {started.stderr}")
            return 2
        rgw = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
        dbs = {name: f"kosha_bench_{uuid.uuid4().hex[:8]}" for name in trees}
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        for db in dbs.values():
            admin.execute(f'CREATE DATABASE "{db}"')
        try:
            urls = {name: PG_ADMIN.rsplit("/", 1)[0] + "/" + db for name, db in dbs.items()}
            return run(args, tmp, rgw, trees, urls, rgw_pids(ceph_dir))
        finally:
            for db in dbs.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            subprocess.run([str(REPO / "scripts" / "ceph-rgw"), "stop", str(ceph_dir)], timeout=60)


def start_kosha(tmp: Path, rgw: dict[str, str], name: str, tree: Path, db_url: str) -> Any:
    """Kosha from `tree` on PostgreSQL, its blobs in a bucket of its own on the RGW."""
    bucket = f"{name}-blobs"
    client(rgw["RGW_ENDPOINT"], rgw["RGW_ACCESS_KEY"], rgw["RGW_SECRET_KEY"], "us-east-1").create_bucket(Bucket=bucket)
    kosha = kosha_server(tmp / f"data-{name}", tmp, f"{name}-rgw", extra_env={
        "PYTHONPATH": str(tree), "KOSHA_DATABASE_URL": db_url, "KOSHA_ACCESS_LOG": "off",
        "KOSHA_BLOBS": f"s3://{bucket}/blobs?endpoint={rgw['RGW_ENDPOINT']}",
        "KOSHA_BLOBS_ACCESS_KEY": rgw["RGW_ACCESS_KEY"], "KOSHA_BLOBS_SECRET_KEY": rgw["RGW_SECRET_KEY"]})
    kosha.server.start()
    kosha.load_credentials()
    client(kosha.s3_url, kosha.access_key, kosha.secret_key, "In-Bangalore-1").create_bucket(Bucket="bench")
    return kosha


def run(args: Any, tmp: Path, rgw: dict[str, str], trees: dict[str, Path], db_urls: dict[str, str],
        daemons: list[int]) -> int:
    raw = lambda: client(rgw["RGW_ENDPOINT"], rgw["RGW_ACCESS_KEY"], rgw["RGW_SECRET_KEY"], "us-east-1")  # noqa: E731
    raw().create_bucket(Bucket="direct")
    servers: dict[str, Any] = {}
    try:
        for name, tree in trees.items():
            servers[name] = start_kosha(tmp, rgw, name, tree, db_urls[name])
        targets: dict[str, tuple[Any, str]] = {"rgw": (raw, "direct")}
        for name, k in servers.items():
            targets[name] = (lambda k=k: client(k.s3_url, k.access_key, k.secret_key, "In-Bangalore-1"), "bench")
        data = os.urandom(args.mib * MiB)
        figures: dict[str, list[float]] = {f"{who} {k}": [] for who in targets for k in ("up", "put", "get")}
        spent: dict[str, dict[str, list[float]]] = {k: {"kosha": [], "rgw": []} for k in figures}
        loads: list[float] = []
        banner(f"Kosha (PostgreSQL + --blobs s3 on RGW) vs RGW, boto3 defaults, {args.runs} runs")
        for n in range(args.runs):
            if args.max_wait:
                wait_quiet(args.max_wait)
            loads.append(os.getloadavg()[0])
            order = list(targets)[n % len(targets):] + list(targets)[:n % len(targets)]
            for k, single in (("up", False), ("put", True)):
                for who in order:
                    make, bucket = targets[who]
                    cpu = {"kosha": [servers[who].server.pid] if who in servers else [],
                           "rgw": daemons}
                    figures[f"{who} {k}"].append(upload_rate(make(), bucket, data, single, cpu,
                                                             spent[f"{who} {k}"]))
            for who in order:
                make, bucket = targets[who]
                figures[f"{who} get"].append(small_get_rate(make, bucket, args.concurrency, args.duration))
        print_table(table(args, figures, list(servers)))
        print_cpu(spent, args.mib, list(servers))
        print(f"   load average (1 min) before each run: {spread(loads) or f'{loads[0]:.1f}'} on {os.cpu_count()} cores")
        write_json(args.json, {"figures": figures, "cpu_seconds": spent, "load": loads})
    finally:
        for k in servers.values():
            k.server.stop()
    return 0


def table(args: Any, figures: dict[str, list[float]], names: list[str]) -> list[Row]:
    rows = []
    for label, k, unit, target in ((f"{args.mib} MiB upload_fileobj", "up", "MB/s", 0.70),
                                   (f"{args.mib} MiB put_object", "put", "MB/s", 0.70),
                                   (f"4 KiB GET x{args.concurrency} threads", "get", "ops/s", 0.50)):
        for name in names:
            ratio = paired_ratio(figures[f"{name} {k}"], figures[f"rgw {k}"])
            rows.append(Row(f"{label} ({name})", median(figures[f"{name} {k}"]), unit,
                            ref=f"RGW {median(figures[f'rgw {k}']):.1f}", ratio=ratio,
                            target=f">= {target:.2f}x", ok=check(ratio, ">=", target),
                            runs=figures[f"{name} {k}"]))
    return rows


def print_cpu(spent: dict[str, dict[str, list[float]]], mib: int, names: list[str]) -> None:
    print(f"\n-- CPU seconds per {mib} MiB upload (median): Kosha's processes, RGW's daemons")
    for k, label in (("up", "upload_fileobj"), ("put", "put_object")):
        parts = [f"RGW alone: RGW {median(spent[f'rgw {k}']['rgw']):.2f}"]
        for name in names:
            via = spent[f"{name} {k}"]
            parts.append(f"{name}: Kosha {median(via['kosha']):.2f} + RGW {median(via['rgw']):.2f}")
        print(f"   {label:14s} " + ";  ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
