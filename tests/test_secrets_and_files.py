"""Secrets and files: no secret in the log, a private data directory (0700, files 0600, fixed
at start when an older version left them open), and `kosha admin rotate-master-key` while a
server keeps answering signed requests, and after it restarts.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _s3(srv: Any, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=srv.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1}))


def _user(srv: Any) -> Any:
    root = srv.operator()
    try:
        return srv.new_user(root, srv.new_account(root), admin=True)
    finally:
        root.close()


def _write_some(srv: Any) -> None:
    user = _user(srv)
    s3 = _s3(srv, user.access_key, user.secret_key)
    bucket = f"f-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(200 * 1024))
    s3.put_object(Bucket=bucket, Key="small", Body=b"inline bytes")
    user.close()


def _open_files(data_dir: Path) -> list[str]:
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        if path.is_symlink():
            continue
        wanted = 0o700 if path.is_dir() else 0o600
        if _mode(path) & ~wanted:
            found.append(f"{path.relative_to(data_dir.parent)} {oct(_mode(path))}")
    return found


def test_the_data_directory_is_0700_and_every_file_0600(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    _write_some(srv)
    data = Path(srv.data_dir)
    assert _mode(data) == 0o700
    for name in ("kosha.db", "kosha.db-wal", "master.key", "root-credentials.json"):
        assert _mode(data / name) == 0o600, name
    assert _open_files(data) == []


def test_modes_left_open_by_an_older_version_are_fixed_at_start(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    _write_some(srv)
    srv.stop()
    data = Path(srv.data_dir)
    for path in [data, *data.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert _open_files(data) != []
    srv.start()
    assert _open_files(data) == []


def test_a_supplied_root_secret_is_never_logged(start_server: Callable[..., Any]) -> None:
    srv = start_server("--log-level", "debug", env={"KOSHA_LOG_LEVEL": "debug"})
    _write_some(srv)
    srv.restart()
    assert srv.root_secret_key not in srv.log()
    assert srv.root_access_key in srv.log()   # the operator still learns which key is theirs


def test_a_generated_secret_is_not_logged_when_stderr_is_not_a_terminal(
        start_server: Callable[..., Any]) -> None:
    srv = start_server(env={"KOSHA_ROOT_ACCESS_KEY": "", "KOSHA_ROOT_SECRET_KEY": ""})
    import json
    creds = json.loads((Path(srv.data_dir) / "root-credentials.json").read_text())
    assert creds["secret_key"] not in srv.log()
    assert "root-credentials.json" in srv.log()


def test_user_secrets_are_never_logged(start_server: Callable[..., Any]) -> None:
    srv = start_server("--log-level", "debug", env={"KOSHA_LOG_LEVEL": "debug"})
    user = _user(srv)
    s3 = _s3(srv, user.access_key, "wrong-" + user.secret_key[6:])
    try:
        s3.list_buckets()
    except ClientError:
        pass
    assert user.secret_key not in srv.log()
    assert user.secret_key[6:] not in srv.log()


def _rotate(srv: Any) -> dict[str, Any]:
    import json
    done = subprocess.run([sys.executable, "-m", "kosha", "admin", "rotate-master-key",
                           "--data", str(srv.data_dir)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _sealed(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "kosha.db") as db:
        return [r[0] for r in db.execute("SELECT secret FROM access_keys")]


def test_rotation_keeps_a_running_server_answering_signed_requests(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    user = _user(srv)
    s3 = _s3(srv, user.access_key, user.secret_key)
    bucket = f"r-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    old_key = (Path(srv.data_dir) / "master.key").read_text()
    failures: list[str] = []
    calls = [0]
    stop = threading.Event()

    def load() -> None:
        client = _s3(srv, user.access_key, user.secret_key)
        while not stop.is_set():
            try:
                client.put_object(Bucket=bucket, Key="k", Body=b"x")
                client.list_objects_v2(Bucket=bucket)
                calls[0] += 1
            except ClientError as exc:
                failures.append(str(exc))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        result = _rotate(srv)
    finally:
        stop.set()
        worker.join()
    assert failures == [] and calls[0] > 0
    assert result["resealed"] >= 2
    data = Path(srv.data_dir)
    assert (data / "master.key").read_text() != old_key
    assert not (data / "master.key.previous").exists()
    assert all(s.startswith(f"v2:{result['key_id']}:") for s in _sealed(data))
    assert user.server.activate(user.access_key, user.secret_key)["sessionToken"]


def test_after_rotation_and_a_restart_old_and_new_keys_work(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    before = _user(srv)
    _rotate(srv)
    after = _user(srv)   # sealed by the running server, which must have picked up the new key
    srv.restart()
    for user in (before, after):
        assert _s3(srv, user.access_key, user.secret_key).list_buckets()["ResponseMetadata"][
            "HTTPStatusCode"] == 200
        assert srv.activate(user.access_key, user.secret_key)["sessionToken"]


def test_a_key_created_after_rotation_is_sealed_under_the_new_key(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    _user(srv)
    result = _rotate(srv)
    _user(srv)
    assert all(s.startswith(f"v2:{result['key_id']}:") for s in _sealed(Path(srv.data_dir)))
