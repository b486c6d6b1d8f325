"""The cost of a bucket policy document on 4 KiB GETs, in one run.

Starts Kosha, creates two buckets with the same 256 objects of 4 KiB, puts a 20-statement
policy (wildcard actions and resources, conditions on aws:SourceIp, aws:UserAgent, s3:prefix,
aws:SecureTransport; none of them denies the benchmark's GETs, so every statement is evaluated
on every request) on the second, and measures 4 KiB GET ops/s on each, alternating, as medians
of --runs runs. The bucket without a policy is the reference; the target is a ratio >= 0.90.
Beside ops/s (which other work on a shared machine moves a lot), the server's own CPU time per
request (utime + stime of its process tree over the phase / requests answered) is printed: it
is what the policy adds, and is far less sensitive to neighbours.

    python bench/bucket_policy.py [--runs 3] [--quick] [--duration 8]
"""
from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402

REGION = "In-Bangalore-1"
PLAIN, GUARDED = "bench-plain", "bench-policy"


def twenty_statements(bucket: str) -> dict:
    arn = f"arn:aws:s3:::{bucket}"
    statements = []
    for i in range(5):
        statements.append({"Sid": f"deny-ip-{i}", "Effect": "Deny", "Principal": "*",
                           "Action": "s3:Get*", "Resource": f"{arn}/*",
                           "Condition": {"IpAddress": {"aws:SourceIp": f"10.{i}.0.0/16"}}})
        statements.append({"Sid": f"deny-agent-{i}", "Effect": "Deny", "Principal": "*",
                           "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{arn}/*",
                           "Condition": {"StringLike": {"aws:UserAgent": f"blocked-{i}-*"}}})
        statements.append({"Sid": f"deny-prefix-{i}", "Effect": "Deny", "Principal": "*",
                           "Action": "s3:*", "Resource": f"{arn}/private-{i}/*"})
        statements.append({"Sid": f"allow-{i}", "Effect": "Allow",
                           "Principal": {"AWS": [f"krn:kos::acct{i}", f"user-{i}"]},
                           "Action": ["s3:GetObject", "s3:ListBucket"],
                           "Resource": [arn, f"{arn}/shared-{i}/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    return {"Version": "2012-10-17", "Statement": statements}


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    args = common.finish_args(parser.parse_args())
    common.banner("bucket policy cost: 4 KiB GET ops/s with and without a 20-statement policy")
    body4k = os.urandom(4096)
    keys = [f"small/g-{i:04d}" for i in range(256)]
    figures: dict[str, list[float]] = {PLAIN: [], GUARDED: []}
    cpu_us: dict[str, list[float]] = {PLAIN: [], GUARDED: []}
    with common.scratch_dir(args, "bucket-policy-") as tmp:
        kp = common.kosha_server(tmp / "kosha", tmp)
        kp.server.start()
        try:
            kp.load_credentials()
            import boto3
            from botocore.config import Config
            s3 = boto3.client("s3", endpoint_url=kp.s3_url, region_name=REGION,
                              aws_access_key_id=kp.access_key, aws_secret_access_key=kp.secret_key,
                              config=Config(s3={"addressing_style": "path"}))
            for bucket in (PLAIN, GUARDED):
                s3.create_bucket(Bucket=bucket)
                puts = loadgen.s3_requests(kp.s3_url, kp.access_key, kp.secret_key, "PUT", bucket,
                                           keys, body4k, REGION)
                made, fails, _ = loadgen.run_count(kp.s3_url, puts, args.concurrency)
                assert made == len(keys), fails
            s3.put_bucket_policy(Bucket=GUARDED, Policy=json.dumps(twenty_statements(GUARDED)))
            for run in range(args.runs):
                for bucket in ((PLAIN, GUARDED) if run % 2 == 0 else (GUARDED, PLAIN)):
                    if args.max_wait:
                        common.wait_quiet(args.max_wait)
                    gets = loadgen.s3_requests(kp.s3_url, kp.access_key, kp.secret_key, "GET",
                                               bucket, keys, b"", REGION)
                    before = common.cpu_seconds(kp.server.pid)
                    r = loadgen.run_load(kp.s3_url, gets, args.concurrency, args.duration,
                                         args.engine)
                    per_request = (common.cpu_seconds(kp.server.pid) - before) / max(1, r.requests) * 1e6
                    figures[bucket].append(r.ops)
                    cpu_us[bucket].append(per_request)
                    print(f"  run {run + 1}: {bucket:13s} {r.ops:9.0f} ops/s  "
                          f"{per_request:7.0f} us server CPU per request", flush=True)
        finally:
            kp.server.stop()
    plain, guarded = statistics.median(figures[PLAIN]), statistics.median(figures[GUARDED])
    print(f"\n4 KiB GET, median of {args.runs}: no policy {plain:.0f} ops/s (reference), "
          f"20-statement policy {guarded:.0f} ops/s, ratio {guarded / plain:.3f} "
          f"(target >= 0.90)")
    cp, cg = statistics.median(cpu_us[PLAIN]), statistics.median(cpu_us[GUARDED])
    print(f"server CPU per request, median of {args.runs}: no policy {cp:.0f} us (reference), "
          f"20-statement policy {cg:.0f} us, ratio of throughputs this implies {cp / cg:.3f}")


if __name__ == "__main__":
    main()
