"""Helpers of the RGW tests: S3 clients for Kosha, the CLI, and which blobs the metadata references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
REGION = "In-Bangalore-1"


def kosha_s3(server: Any, access_key: str, secret_key: str) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name=REGION,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}, read_timeout=300))


def admin_user(server: Any) -> Any:
    """A fresh account's admin user (a logged-in KosClient with `access_key`, `secret_key`)."""
    root = server.operator()
    try:
        return server.new_user(root, server.new_account(root), admin=True)
    finally:
        root.close()


def new_bucket(s3: Any) -> str:
    name = f"rgw-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def kosha_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run([sys.executable, "-m", "kosha", *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


def gc(server: Any, rgw_env: dict[str, str]) -> dict[str, int]:
    """`kosha gc` on a server's stores (its database and blobs), time moved past the grace period."""
    return kosha_cli("gc", "--data", str(server.data_dir), *server.flags,
                     env={**rgw_env, **server.extra_env, "KOSHA_CLOCK_OFFSET": str(2 * 3600)})


def referenced_blobs_sqlite(data_dir: Path) -> set[str]:
    import sqlite3
    with sqlite3.connect(data_dir / "kosha.db") as db:
        return {row[0] for row in db.execute("SELECT blob_id FROM blobs")}


def referenced_blobs_pg(url: str) -> set[str]:
    import psycopg
    with psycopg.connect(url) as db:
        return {row[0] for row in db.execute("SELECT blob_id FROM blobs")}
