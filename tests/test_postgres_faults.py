"""A PostgreSQL restarted under load: requests answer 503 with Retry-After while it is down
(never 500), and the server recovers by itself once it is back; /readyz reports the database.

Restarts the machine's PostgreSQL cluster (`pg_ctlcluster`), and makes sure it runs afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.postgres_db import ADMIN_URL
from tests.postgres_db import admin_connection as _admin_connection

API = "/kos/v1"


def _cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        pytest.skip("no local PostgreSQL cluster to restart")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def _pg(action: str) -> None:
    subprocess.run([*_cluster(), action], check=True, capture_output=True, timeout=120)


def _ensure_running() -> None:
    status = subprocess.run([*_cluster(), "status"], capture_output=True)
    if status.returncode != 0:
        _pg("start")


@pytest.fixture
def pg_served(start_server: Any) -> Iterator[tuple[Any, Any, str]]:
    _cluster()
    name = f"kosha_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_connection()
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    try:
        srv = start_server("--database-url", ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        root = srv.operator()
        client = srv.new_user(root, srv.new_account(root), admin=True)
        bucket = f"pg-{uuid.uuid4().hex[:10]}"
        assert client.post(f"{API}/buckets", json={"name": bucket}).status_code == 201
        yield srv, client, bucket
        client.close()
        root.close()
        srv.stop()
    finally:
        _ensure_running()
        admin = _admin_connection()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _put(client: httpx.Client, bucket: str, key: str) -> httpx.Response:
    return client.put(f"{API}/buckets/{bucket}/objects", files=[("file", (key, b"x" * 100))])


def test_a_postgresql_restart_under_load_is_503_never_500_and_recovers(pg_served: Any) -> None:
    srv, client, bucket = pg_served
    statuses: list[int] = []
    retry_after: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=srv.kos_url, timeout=30, headers=client.headers) as http:
            while not stop.is_set():
                response = _put(http, bucket, f"k-{uuid.uuid4().hex}")
                statuses.append(response.status_code)
                if response.status_code == 503:
                    retry_after.append(response.headers.get("retry-after", ""))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        _pg("stop")
        time.sleep(1.5)
        down = srv.http().get("/readyz")
        _pg("start")
    finally:
        _ensure_running()
        time.sleep(1.0)
        stop.set()
        for w in workers:
            w.join()
    assert down.status_code == 503
    assert down.json()["checks"]["database"]["status"] == "failed"
    assert 500 not in statuses, statuses
    assert set(statuses) <= {201, 503}
    assert 503 in statuses and all(r for r in retry_after)
    deadline = time.monotonic() + 20
    while _put(client, bucket, "after.txt").status_code != 201:
        assert time.monotonic() < deadline, "no recovery after the restart"
        time.sleep(0.5)
    assert srv.http().get("/readyz").status_code == 200
