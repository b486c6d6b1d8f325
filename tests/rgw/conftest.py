"""A real Ceph RGW for the tests marked `rgw`: started once per session by scripts/ceph-rgw.

* `rgw` (session): the running gateway: `endpoint`, `access_key`, `secret_key`, `client()` (a
  boto3 client for RGW itself), `new_bucket()`, and `env` (what a Kosha server needs to use it).
  Where RGW cannot start (Ceph's packages are missing, the daemons fail), every `rgw` test is
  skipped with the reason, printed; the test command installs the packages, so on a prepared
  machine nothing is skipped.
* `blob_server(prefix=None, *flags)`: a Kosha server (SQLite) with `--blobs s3://...` on RGW.
* `pg_url` (module): a fresh PostgreSQL database, dropped afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.postgres_db import fresh_database
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
MASTER_KEY = "a29zaGEtcmd3LXRlc3RzLW1hc3Rlci1rZXktMzJieXQ="   # shared by a cluster's processes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.rgw)


@dataclass
class Rgw:
    endpoint: str
    access_key: str
    secret_key: str
    buckets: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"KOSHA_BLOBS_ACCESS_KEY": self.access_key, "KOSHA_BLOBS_SECRET_KEY": self.secret_key}

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=Config(s3={"addressing_style": "path"}))

    def new_bucket(self) -> str:
        name = f"kosha-blobs-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def blobs_url(self, bucket: str, prefix: str = "blobs") -> str:
        return f"s3://{bucket}/{prefix}?endpoint={self.endpoint}"

    def keys(self, bucket: str, prefix: str = "blobs/") -> dict[str, int]:
        """Every object under `prefix` in `bucket`, with its size."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["Size"]
        return found

    def unfinished_uploads(self, bucket: str) -> list[str]:
        return [u["Key"] for u in self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rgw]:
    missing = [tool for tool in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin")
               if shutil.which(tool) is None]
    if missing:
        reason = (f"RGW cannot start: {', '.join(missing)} not installed (apt-get install -y "
                  "--no-install-recommends ceph-mon ceph-osd radosgw ceph-common; scripts/test does)")
        print(f"\n*** {reason}")
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("ceph")
    command = [str(REPO / "scripts" / "ceph-rgw"), "start", str(directory),
               str(_free_port()), str(_free_port())]
    started = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        subprocess.run([str(REPO / "scripts" / "ceph-rgw"), "stop", str(directory)], timeout=60)
        reason = f"RGW cannot start (exit {started.returncode}): {started.stderr.strip()[-800:]}"
        print(f"\n*** {reason}")
        pytest.skip(reason)
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    yield Rgw(values["RGW_ENDPOINT"], values["RGW_ACCESS_KEY"], values["RGW_SECRET_KEY"])
    subprocess.run([str(REPO / "scripts" / "ceph-rgw"), "stop", str(directory)], timeout=60)


@pytest.fixture
def blob_server(rgw: Rgw, start_server: Callable[..., Any]) -> Callable[..., Any]:
    """`blob_server(*flags)`: a server whose blobs live in a fresh RGW bucket (`.blob_bucket`)."""
    def make(*flags: str, env: dict[str, str] | None = None) -> Any:
        bucket = rgw.new_bucket()
        instance = start_server("--blobs", rgw.blobs_url(bucket), *flags,
                                env={**rgw.env, **(env or {})})
        instance.blob_bucket = bucket
        return instance
    return make


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_database("kosha_rgw") as url:
        yield url
