"""`--blobs file:///path`: blobs under that directory, and garbage collection that refuses to run
against a blob directory another database owns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]


def _s3(server: Any) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=server.root_access_key,
                        aws_secret_access_key=server.root_secret_key,
                        config=Config(s3={"addressing_style": "path"}))


def _gc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kosha", "gc", *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO),
                                          "KOSHA_CLOCK_OFFSET": str(2 * 3600)}, timeout=120)


def _blob_files(root: Path) -> list[Path]:
    return [p for p in root.glob("??/*") if p.is_file()]


def test_blobs_go_to_the_directory_the_file_url_names(start_server: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared-blobs"
    server = start_server("--blobs", f"file://{shared}")
    s3 = _s3(server)
    s3.create_bucket(Bucket="files-here")
    s3.put_object(Bucket="files-here", Key="k", Body=os.urandom(200 * 1024))
    assert len(_blob_files(shared)) == 1
    assert not (server.data_dir / "blobs").exists()


def test_gc_of_another_database_refuses_to_touch_the_blobs(start_server: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared-blobs"
    server = start_server("--blobs", f"file://{shared}")
    s3 = _s3(server)
    s3.create_bucket(Bucket="owned")
    s3.put_object(Bucket="owned", Key="k", Body=os.urandom(200 * 1024))
    server.stop()
    assert _gc("--data", str(server.data_dir), "--blobs", f"file://{shared}").returncode == 0
    wrong = _gc("--data", str(tmp_path / "another-data-dir"), "--blobs", f"file://{shared}")
    assert wrong.returncode == 2
    assert "belong to another deployment" in wrong.stderr
    assert len(_blob_files(shared)) == 1
    assert (shared / "kosha-owner").read_text().strip() != ""
