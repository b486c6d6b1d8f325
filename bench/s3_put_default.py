"""256 MiB S3 PUTs as boto3 sends them by default, against the bare reference app.

boto3's default put_object over plain HTTP signs the payload's SHA-256 and adds a CRC32
(`x-amz-checksum-crc32`); the server verifies both and computes the MD5 for the ETag. The bare
app (bench/reference_app.py) streams the body to a file with MD5 and fsync: the floor.
`--baseline PATH` also runs a second Kosha from another checkout (PYTHONPATH=PATH), so that a
change is measured before and after in the same run.

    python bench/s3_put_default.py [--repeat 3] [--size-mib 256] [--baseline /path/to/old/tree]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from common import (MiB, REPO, kosha_server, median, pattern_chunks, ref_app, spread,
                    stream_upload, wait_quiet)


def body(size: int) -> bytes:
    return b"".join(bytes(c) for c in pattern_chunks(size))


def ref_mbps(url: str, size: int) -> float:
    start = time.perf_counter()
    stream_upload(f"{url}/upload/big", pattern_chunks(size), size)
    return size / MiB / (time.perf_counter() - start)


def kosha_mbps(k, data: bytes) -> float:  # type: ignore[no-untyped-def]
    s3 = boto3.client("s3", endpoint_url=k.s3_url, region_name="In-Bangalore-1",
                      aws_access_key_id=k.access_key, aws_secret_access_key=k.secret_key,
                      config=Config(s3={"addressing_style": "path"}))
    try:
        s3.create_bucket(Bucket="bench")
    except s3.exceptions.ClientError:
        pass
    start = time.perf_counter()
    s3.put_object(Bucket="bench", Key="big", Body=data)
    return len(data) / MiB / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--baseline", default=None, help="another checkout to measure beside this one")
    args = ap.parse_args()
    size = args.size_mib * MiB
    data = body(size)
    with tempfile.TemporaryDirectory(prefix="kosha-putbench-") as td:
        tmp = Path(td)
        trees = {"kosha": REPO, **({"baseline": Path(args.baseline)} if args.baseline else {})}
        servers = {name: kosha_server(tmp / name, tmp, name, {"PYTHONPATH": str(tree)})
                   for name, tree in trees.items()}
        ref = ref_app("uvicorn", tmp / "ref", tmp)
        ref.start()
        for k in servers.values():
            k.server.start()
            k.load_credentials()
        results: dict[str, list[float]] = {"reference": [], **{n: [] for n in servers}}
        try:
            wait_quiet(max_wait=30)
            for _ in range(args.repeat):
                results["reference"].append(ref_mbps(ref.health_url.rsplit("/", 1)[0], size))
                for name, k in servers.items():
                    results[name].append(kosha_mbps(k, data))
        finally:
            ref.stop()
            for k in servers.values():
                k.server.stop()
    floor = median(results["reference"])
    print(f"{args.size_mib} MiB PUT, boto3 default settings, medians of {args.repeat}")
    for name, runs in results.items():
        print(f"  {name:<10} {median(runs):8.1f} MB/s  {spread(runs):<24} "
              f"{median(runs) / floor:6.2f}x of the bare app")


if __name__ == "__main__":
    main()
