"""The same figures from two checkouts of Kosha, measured side by side in one run.

A change is judged against the tree before it: this starts one server from this checkout and one
from `--baseline` (PYTHONPATH=that tree; same interpreter, same machine, same moment) and measures,
alternating which goes first: S3 4 KiB GET and PUT ops/s (signed V4, 16 keep-alive clients), KOS
REST 4 KiB download and form upload ops/s, each with the server's CPU time per request (user +
system, from /proc: the figure a busy machine disturbs least), and a 64 MiB boto3 put_object
with its default settings (MB/s); where a tree counts them in /metrics, the writes its database
writer grouped into each commit (each commit one fsync). Medians of --runs; the ratio is this
tree's figure over the baseline's.

    python bench/before_after.py --baseline /path/to/older/checkout [--runs 3] [--duration 5]
                                 [--only "REST 4 KiB"]
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402

REGION = "In-Bangalore-1"
BUCKET = "ab-bench"
KEYS = [f"small/k-{i:04d}" for i in range(256)]
BOUNDARY = "kosha-ab-bench-boundary"


def form_body(name: str, data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + \
        f"\r\n--{BOUNDARY}--\r\n".encode()


class Target:
    def __init__(self, name: str, tree: Path, tmp: Path) -> None:
        self.name = name
        self.kp = common.kosha_server(tmp / name, tmp, name, {"PYTHONPATH": str(tree)})
        self.kp.server.cwd = str(tree)   # `python -m` puts the working directory before PYTHONPATH

    def start(self, body: bytes) -> None:
        self.kp.server.start()
        self.kp.load_credentials()
        import boto3
        from botocore.config import Config
        self.s3 = boto3.client("s3", endpoint_url=self.kp.s3_url, region_name=REGION,
                               aws_access_key_id=self.kp.access_key,
                               aws_secret_access_key=self.kp.secret_key,
                               config=Config(s3={"addressing_style": "path"}))
        self.s3.create_bucket(Bucket=BUCKET)
        puts = self.s3_requests("PUT", body)
        made, fails, _ = loadgen.run_count(self.kp.s3_url, puts, 16)
        assert made == len(KEYS), fails
        status, answer = common.http_json("POST", f"{self.kp.kos_url}/kos/v1/sessions/activate",
                                          {"accessKey": self.kp.access_key,
                                           "secretKey": self.kp.secret_key})
        assert status == 200, answer
        self.bearer = {"Authorization": f"Bearer {answer['sessionToken']}"}

    def s3_requests(self, method: str, body: bytes = b"") -> list[loadgen.Req]:
        return loadgen.s3_requests(self.kp.s3_url, self.kp.access_key, self.kp.secret_key,
                                   method, BUCKET, KEYS, body, REGION)

    def rest_downloads(self) -> list[loadgen.Req]:
        import json
        headers = {**self.bearer, "Accept": "application/octet-stream",
                   "Content-Type": "application/json"}
        return [loadgen.Req("POST", f"/kos/v1/buckets/{BUCKET}/objects/download", headers,
                            json.dumps({"objectKey": k}).encode()) for k in KEYS[:64]]

    def rest_uploads(self, body: bytes) -> list[loadgen.Req]:
        headers = {**self.bearer, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return [loadgen.Req("PUT", f"/kos/v1/buckets/{BUCKET}/objects", headers,
                            form_body(f"up-{i}", body)) for i in range(64)]

    def big_put_mbps(self, data: bytes) -> float:
        start = time.perf_counter()
        self.s3.put_object(Bucket=BUCKET, Key="big", Body=data)
        return len(data) / common.MiB / (time.perf_counter() - start)


def db_commits(kos_url: str) -> tuple[float, float] | None:
    """(commits, writes) of the database writer from /metrics; None if the tree has no counters."""
    _status, text = common.http_simple("GET", f"{kos_url}/metrics")
    found = dict(re.findall(r"^(kosha_db_write_commits_total|kosha_db_writes_total) (\S+)$",
                            text.decode(), re.M))
    if len(found) < 2:
        return None
    return float(found["kosha_db_write_commits_total"]), float(found["kosha_db_writes_total"])


def measure(t: Target, body: bytes, big: bytes, duration: float, engine: str,
            only: str | None = None) -> dict[str, float]:
    figures: dict[str, float] = {}

    def ops(name: str, base: str, reqs: list[loadgen.Req]) -> None:
        if only and only.lower() not in name.lower():
            return
        before = db_commits(t.kp.kos_url)
        result = loadgen.run_load(base, reqs, 16, duration, engine, server_pid=t.kp.server.pid)
        after = db_commits(t.kp.kos_url)
        figures[f"{name} ops/s"] = result.ops
        figures[f"{name} server CPU us/req (lower: better)"] = result.server_cpu_us or 0.0
        if before and after and after[0] - before[0] >= 10:   # a write phase
            figures[f"{name} writes per commit"] = (after[1] - before[1]) / (after[0] - before[0])

    ops("S3 4 KiB GET", t.kp.s3_url, t.s3_requests("GET"))
    ops("S3 4 KiB PUT", t.kp.s3_url, t.s3_requests("PUT", body))
    ops("REST 4 KiB download", t.kp.kos_url, t.rest_downloads())
    ops("REST 4 KiB form upload", t.kp.kos_url, t.rest_uploads(body))
    if not only or only.lower() in "s3 64 mib put_object":
        figures["S3 64 MiB put_object MB/s (boto3 defaults)"] = t.big_put_mbps(big)
    return figures


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the older checkout to compare with")
    parser.add_argument("--only", default=None,
                        help="measure only the figures whose name holds this (e.g. 'REST 4 KiB')")
    args = common.finish_args(parser.parse_args())
    common.banner("before / after: this checkout against --baseline, side by side")
    body = b"k" * 4096
    big = b"".join(bytes(c) for c in common.pattern_chunks(64 * common.MiB))
    figures: dict[str, dict[str, list[float]]] = {"baseline": {}, "current": {}}
    with common.scratch_dir(args, "before-after-") as tmp:
        targets = [Target("current", common.REPO, tmp), Target("baseline", Path(args.baseline), tmp)]
        try:
            for t in targets:
                t.start(body)
            for run in range(args.runs):
                for t in (targets if run % 2 == 0 else targets[::-1]):
                    if args.max_wait:
                        common.wait_quiet(args.max_wait)
                    for metric, value in measure(t, body, big, args.duration, args.engine, args.only).items():
                        figures[t.name].setdefault(metric, []).append(value)
                        print(f"  run {run + 1} {t.name:8s} {metric:44s} {value:9.1f}", flush=True)
        finally:
            for t in targets:
                t.kp.server.stop()
    print(f"\nmedians of {args.runs} (ratio = current / baseline; target >= 0.95)")
    for metric, now in figures["current"].items():
        before = figures["baseline"].get(metric)
        c = statistics.median(now)
        if not before:   # a figure the older tree cannot give (e.g. its writer's commit counts)
            print(f"  {metric:44s} baseline       n/a  current {c:9.1f}  (runs {common.spread(now)})")
            continue
        b = statistics.median(before)
        print(f"  {metric:44s} baseline {b:9.1f}  current {c:9.1f}  ratio {c / b:5.2f}  "
              f"(runs {common.spread(now)} vs {common.spread(before)})")


if __name__ == "__main__":
    main()
