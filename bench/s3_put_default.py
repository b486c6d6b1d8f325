"""256 MiB S3 PUTs as boto3 and the aws CLI send them by default, against the bare reference app.

boto3's default put_object over plain HTTP (1.36 and later) signs the payload's SHA-256 in
`x-amz-content-sha256`, adds a CRC32 (`x-amz-checksum-crc32`) and `Expect: 100-continue`; the
server verifies both and computes the MD5 for the ETag. `aws s3 cp` of a file uploads it in
8 MiB parts (UploadPart, 10 at a time), each signed the same way. The bare app
(bench/reference_app.py) streams the body to a file with MD5 and fsync: the floor. boto3's
put_object also goes to the bare app (its `bare` bucket: the same MD5 + fsync, nothing checked;
and `bare-checked`: SHA-256 and CRC32 checked too, all on the one thread), so that what the
client costs by itself shows beside the servers.

Printed per target: MB/s (median, spread, ratio to the bare app's figure of the same run), the
server's CPU seconds per GiB (user + system of its process tree, median) and the client's
(this process for boto3, the finished `aws` children for the CLI): the CPU figures hardly
depend on what else runs on the machine, the MB/s does.
`--baseline PATH` also runs a second Kosha from another checkout (PYTHONPATH=PATH), so that a
change is measured before and after in the same run; `--moto` adds moto_server; `--no-cli`
skips the aws CLI. The targets take turns in a rotating order.

    python bench/s3_put_default.py [--repeat 3] [--size-mib 256] [--baseline /path/to/old/tree]
                                   [--moto] [--no-cli]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from common import (HOST, MiB, PY, REPO, Server, cpu_seconds, free_port, kosha_server, median,
                    paired_ratio, pattern_chunks, ref_app, spread, stream_upload, wait_quiet)

REGION = "In-Bangalore-1"
BUCKET = "bench"


@dataclass
class Target:
    """One server under test: how to reach it and what each run measured."""

    name: str
    server: Server
    url: str = ""
    keys: tuple[str, str] = ("", "")
    region: str = REGION
    mbps: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    client_cpu: dict[str, list[float]] = field(default_factory=dict)

    def record(self, what: str, size: int, run: Callable[[], None]) -> None:
        """Time `run` (MB/s, decimal) and the server's and client's CPU seconds per GiB."""
        cpu0, client0, t0 = cpu_seconds(self.server.pid), client_cpu(), time.perf_counter()
        run()
        seconds = time.perf_counter() - t0
        self.mbps.setdefault(what, []).append(size / 1e6 / seconds)
        self.cpu.setdefault(what, []).append((cpu_seconds(self.server.pid) - cpu0) * (1 << 30) / size)
        self.client_cpu.setdefault(what, []).append((client_cpu() - client0) * (1 << 30) / size)


def client_cpu() -> float:
    """CPU seconds of this process (boto3) and of its finished children (the aws CLI)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def s3_client(t: Target):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=t.url, region_name=t.region,
                        aws_access_key_id=t.keys[0], aws_secret_access_key=t.keys[1],
                        config=Config(s3={"addressing_style": "path"}))


def cli_env(t: Target) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": t.keys[0], "AWS_SECRET_ACCESS_KEY": t.keys[1],
            "AWS_DEFAULT_REGION": t.region, "AWS_CONFIG_FILE": "/dev/null"}


def aws_cp(t: Target, path: Path) -> None:
    subprocess.run(["aws", "--endpoint-url", t.url, "s3", "cp", "--only-show-errors", str(path),
                    f"s3://{BUCKET}/cli"], env=cli_env(t), check=True)


def kosha_target(name: str, tree: Path, tmp: Path) -> Target:
    k = kosha_server(tmp / name, tmp, name, {"PYTHONPATH": str(tree)})
    k.server.start()
    k.load_credentials()
    return Target(name, k.server, k.s3_url, (k.access_key, k.secret_key))


def moto_target(tmp: Path) -> Target:
    port = free_port()
    srv = Server("moto", [PY, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                 f"http://{HOST}:{port}/", log_dir=tmp)
    srv.start()
    return Target("moto", srv, f"http://{HOST}:{port}", ("testing", "testing"), "us-east-1")


def measure(targets: list[Target], ref: Target, ref_url: str, data: bytes, path: Path | None,
            repeat: int) -> None:
    size = len(data)
    for t in targets:
        s3_client(t).create_bucket(Bucket=BUCKET)
    bare = s3_client(Target("bare", ref.server, ref_url, ("bare", "bare")))
    for i in range(repeat):
        ref.record("put", size, lambda: stream_upload(f"{ref_url}/upload/big",
                                                      pattern_chunks(size), size))
        ref.record("boto3", size, lambda: bare.put_object(Bucket="bare", Key="big", Body=data))
        ref.record("boto3-checked", size,
                   lambda: bare.put_object(Bucket="bare-checked", Key="big", Body=data))
        for t in targets[i % len(targets):] + targets[:i % len(targets)]:
            client = s3_client(t)
            t.record("put", size, lambda: client.put_object(Bucket=BUCKET, Key="big", Body=data))
            if path is not None:
                t.record("cli", size, lambda: aws_cp(t, path))


def cli_startup(t: Target, tmp: Path) -> float:
    """Seconds `aws s3 cp` of a 1-byte file takes: the CLI's own start, part of its figures."""
    one = tmp / "one"
    one.write_bytes(b"x")
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        aws_cp(t, one)
        runs.append(time.perf_counter() - t0)
    return median(runs)


def report(targets: list[Target], ref: Target, args: argparse.Namespace,
           startup: float | None) -> None:
    print(f"{args.size_mib} MiB PUT, medians of {args.repeat}; ratio = median of each "
          f"repetition's MB/s over the bare app's raw upload in that repetition; CPU = server "
          f"and client CPU seconds per GiB")

    def line(label: str, t: Target, what: str) -> None:
        runs = t.mbps[what]
        ratio = paired_ratio(runs, ref.mbps["put"]) or 0.0
        print(f"  {label:<46} {median(runs):8.1f} MB/s  {spread(runs):<20} {ratio:5.2f}x   "
              f"CPU server {median(t.cpu[what]):5.2f}, client {median(t.client_cpu[what]):5.2f}"
              f" s/GiB")

    line("bare app, raw upload (MD5 + fsync)", ref, "put")
    line("bare app, boto3 put_object (MD5 + fsync)", ref, "boto3")
    line("bare app, boto3, SHA-256 + CRC32 checked", ref, "boto3-checked")
    labels = {"put": "boto3 put_object (defaults)", "cli": "aws s3 cp (defaults)"}
    for what, label in labels.items():
        for t in targets:
            if what in t.mbps:
                line(t.name + " " + label, t, what)
    for t in targets:
        if t.name != "moto":
            print(f"  {t.name} / bare app, both boto3 put_object: "
                  f"{paired_ratio(t.mbps['put'], ref.mbps['boto3']) or 0.0:.2f}x; "
                  f"/ bare app checking SHA-256 + CRC32: "
                  f"{paired_ratio(t.mbps['put'], ref.mbps['boto3-checked']) or 0.0:.2f}x")
    moto = next((t for t in targets if t.name == "moto"), None)
    if moto is not None:
        for t in targets:
            if t is not moto:
                print(f"  {t.name} / moto, put_object: "
                      f"{paired_ratio(t.mbps['put'], moto.mbps['put']) or 0.0:.2f}x")
    base = next((t for t in targets if t.name == "baseline"), None)
    if base is not None:
        print(f"  kosha / baseline, put_object: "
              f"{paired_ratio(targets[0].mbps['put'], base.mbps['put']) or 0.0:.2f}x")
    if startup is not None:
        print(f"  (aws s3 cp of a 1-byte file takes {startup:.2f} s: the CLI's start, included "
              f"in its MB/s; without it:)")
        mb = args.size_mib * MiB / 1e6
        for t in targets:
            if "cli" in t.mbps:
                net = [mb / max(1e-3, mb / m - startup) for m in t.mbps["cli"]]
                print(f"    {t.name + ' aws s3 cp, less the start':<38} {median(net):8.1f} MB/s  "
                      f"{paired_ratio(net, ref.mbps['put']) or 0.0:5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--baseline", default=None, help="another checkout to measure beside this one")
    ap.add_argument("--moto", action="store_true", help="also measure moto_server")
    ap.add_argument("--no-cli", action="store_true", help="skip `aws s3 cp`")
    args = ap.parse_args()
    size = args.size_mib * MiB
    data = b"".join(bytes(c) for c in pattern_chunks(size))
    with_cli = not args.no_cli and shutil.which("aws") is not None
    with tempfile.TemporaryDirectory(prefix="kosha-putbench-") as td:
        tmp = Path(td)
        path = tmp / "big" if with_cli else None
        if path is not None:
            path.write_bytes(data)
        trees = {"kosha": REPO, **({"baseline": Path(args.baseline)} if args.baseline else {})}
        targets: list[Target] = []
        ref_server = ref_app("uvicorn", tmp / "ref", tmp)
        try:
            ref_server.start()
            ref = Target("reference", ref_server)
            targets += [kosha_target(name, tree, tmp) for name, tree in trees.items()]
            if args.moto:
                targets.append(moto_target(tmp))
            wait_quiet(max_wait=30)
            measure(targets, ref, ref_server.health_url.rsplit("/", 1)[0], data, path,
                    args.repeat)
            startup = cli_startup(targets[0], tmp) if with_cli else None
        finally:
            ref_server.stop()
            for t in targets:
                t.server.stop()
    report(targets, ref, args, startup)


if __name__ == "__main__":
    main()
