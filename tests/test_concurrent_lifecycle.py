"""Lifecycle passes run at the same moment by three processes (`kosha lifecycle run`, which an
operator may start beside the servers' own leased worker) on one store: every pass succeeds,
nothing is logged as an error, and the bucket's `usedCapacity` equals the sizes listed after.

On SQLite and on the machine's PostgreSQL (a database made for the test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import REPO, KoshaServer
from tests.postgres_db import fresh_database

DAY = 86400


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    if request.param == "sqlite":
        yield tmp_path / "data", []
        return
    with fresh_database() as url:
        yield tmp_path / "data", ["--database-url", url]


def s3(server: KoshaServer) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=server.root_access_key,
                        aws_secret_access_key=server.root_secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def test_three_concurrent_lifecycle_passes_leave_exact_usage_and_no_errors(
        store: tuple[Path, list[str]]) -> None:
    data_dir, flags = store
    server = KoshaServer(data_dir, *flags).start()
    client = s3(server)
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(120):
        client.put_object(Bucket=bucket, Key=f"old/{i % 40}", Body=b"o" * (100 + i))
        client.put_object(Bucket=bucket, Key=f"keep/{i % 10}", Body=b"k" * (50 + i))
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Days": 1},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    server.stop()

    env = {**os.environ, "PYTHONPATH": str(REPO), "KOSHA_CLOCK_OFFSET": str(3 * DAY),
           "KOSHA_ROOT_ACCESS_KEY": server.root_access_key, "KOSHA_ROOT_SECRET_KEY": server.root_secret_key}
    runs = [subprocess.Popen([sys.executable, "-m", "kosha", "lifecycle", "run", "--data", str(data_dir), *flags],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert not any("error" in out.lower() or "Traceback" in out for out in outputs), outputs

    server.start()
    try:
        client = s3(server)
        listed = client.list_object_versions(Bucket=bucket)
        sizes = sum(v["Size"] for v in listed.get("Versions", []))
        old = [v for v in listed.get("Versions", []) if v["Key"].startswith("old/")]
        assert len(old) == 40   # of 3 versions each, the 2 noncurrent went; the current is now noncurrent
        assert len(listed.get("DeleteMarkers", [])) == 40
        used = server.operator().get(f"/kos/v1/buckets/{bucket}").json()["usedCapacity"]
        assert used == sizes
    finally:
        server.stop()
