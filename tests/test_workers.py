"""`kosha serve --workers N`: one supervisor, N worker processes on the same two ports.

Each test starts a real supervisor (`python -m kosha serve --workers 2`) on SQLite, and where the
behaviour depends on the database also on a PostgreSQL database made for the test.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import REPO, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, KoshaServer
from tests.postgres_db import admin_connection, fresh_database

@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own for one test, dropped after it."""
    with fresh_database("kosha_workers") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def workers2(request: pytest.FixtureRequest, start_server: Callable[..., KoshaServer]
             ) -> KoshaServer:
    """A two-worker server on SQLite, then on PostgreSQL."""
    flags = ["--workers", "2"]
    if request.param == "postgres":
        flags += ["--database-url", request.getfixturevalue("postgres_url")]
    return start_server(*flags)


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return {int(p) for p in f.read().split()}


def _metric(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one metric family in Prometheus text."""
    found = {}
    for match in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE):
        found[match.group(1) or ""] = float(match.group(2))
    return found


def _fresh_get(url: str) -> httpx.Response:
    """One request on a new connection, so the kernel may pick any worker (generous timeout:
    the test machine is shared and busy)."""
    with httpx.Client(timeout=30) as client:
        return client.get(url)


def _s3(server: KoshaServer) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=ROOT_ACCESS_KEY, aws_secret_access_key=ROOT_SECRET_KEY,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 0}))


def _wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_two_workers_serve_both_ports_from_two_processes(workers2: KoshaServer) -> None:
    assert workers2.process is not None
    assert len(_children(workers2.process.pid)) == 2
    for _ in range(40):
        assert _fresh_get(f"{workers2.kos_url}/healthz").status_code == 200
    s3 = _s3(workers2)
    s3.create_bucket(Bucket="spread")
    s3.put_object(Bucket="spread", Key="k", Body=b"x" * 4096)
    assert s3.get_object(Bucket="spread", Key="k")["Body"].read() == b"x" * 4096

    def both_answered() -> dict[str, float]:
        per_pid = _metric(_fresh_get(f"{workers2.kos_url}/metrics").text, "kosha_worker_requests")
        return per_pid if len(per_pid) == 2 and all(per_pid.values()) else {}
    assert _wait_for(both_answered)


def test_metrics_sum_the_requests_of_every_worker(workers2: KoshaServer) -> None:
    for _ in range(30):
        _fresh_get(f"{workers2.kos_url}/openapi.json")

    def counted() -> float:
        text = _fresh_get(f"{workers2.kos_url}/metrics").text
        per_pid = _metric(text, "kosha_worker_requests")
        requests = _metric(text, "kosha_http_requests_total")
        total = requests.get('{operation="openapi",port="kos",status="200"}', 0)
        return total if total == 30 and len([v for v in per_pid.values() if v]) == 2 else 0
    assert _wait_for(counted) == 30


def test_a_killed_worker_is_restarted_and_service_continues(
        start_server: Callable[..., KoshaServer]) -> None:
    server = start_server("--workers", "2")
    assert server.process is not None
    before = _children(server.process.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    s3 = _s3(server)
    s3.create_bucket(Bucket="survivor")
    for i in range(20):
        s3.put_object(Bucket="survivor", Key=f"k{i}", Body=b"y" * 100)

    def replaced() -> set[int]:
        assert server.process is not None
        now = _children(server.process.pid)
        return now if len(now) == 2 and victim not in now else set()
    assert _wait_for(replaced)
    for _ in range(20):
        assert _fresh_get(f"{server.kos_url}/healthz").status_code == 200
    assert "exited with SIGKILL" in server.log()


def test_sigterm_lets_a_slow_upload_finish_then_exits_zero(
        start_server: Callable[..., KoshaServer]) -> None:
    server = start_server("--workers", "2")
    s3 = _s3(server)
    s3.create_bucket(Bucket="slow")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "slow", "Key": "late"},
                                    ExpiresIn=300)
    chunks, sent_first = 8, threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(chunks):
            yield bytes([65 + i]) * 4096
            sent_first.set()
            time.sleep(0.4)
    answer: list[httpx.Response] = []
    upload = threading.Thread(target=lambda: answer.append(httpx.put(
        url, content=body(), headers={"content-length": str(chunks * 4096)}, timeout=60)))
    upload.start()
    assert sent_first.wait(10)
    time.sleep(0.3)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    upload.join(30)
    assert answer and answer[0].status_code == 200
    assert server.process.wait(30) == 0
    server.start()
    stored = _s3(server).get_object(Bucket="slow", Key="late")["Body"].read()
    assert stored == b"".join(bytes([65 + i]) * 4096 for i in range(chunks))


def test_bootstrap_happens_once(start_server: Callable[..., KoshaServer]) -> None:
    server = start_server("--workers", "3")
    database = sqlite3.connect(server.data_dir / "kosha.db")
    try:
        keys = database.execute("SELECT count(*) FROM access_keys").fetchone()[0]
        users = database.execute("SELECT count(*) FROM users").fetchone()[0]
    finally:
        database.close()
    assert (keys, users) == (1, 1)
    assert server.log().count("operator credentials") == 1
    assert len(list(server.data_dir.glob("root-credentials*"))) == 1


def test_readyz_answers_503_when_the_database_is_gone(
        start_server: Callable[..., KoshaServer], postgres_url: str) -> None:
    server = start_server("--workers", "2", "--database-url", postgres_url)
    assert _fresh_get(f"{server.kos_url}/readyz").status_code == 200
    admin = admin_connection()
    try:
        admin.execute(f'DROP DATABASE "{postgres_url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        admin.close()
    try:
        answers = [_fresh_get(f"{server.kos_url}/readyz") for _ in range(6)]
    except httpx.HTTPError as exc:
        pytest.fail(f"/readyz did not answer ({exc!r}); server log:\n{server.log()[-4000:]}")
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["checks"]["database"]["status"] == "failed"
    assert _fresh_get(f"{server.kos_url}/healthz").status_code == 200


def test_a_second_server_cannot_join_the_ports(start_server: Callable[..., KoshaServer],
                                               tmp_path: Any) -> None:
    """SO_REUSEPORT must not let another server (same user) take a share of the traffic."""
    first = start_server("--workers", "2")
    intruder = subprocess.run(
        [sys.executable, "-m", "kosha", "serve", "--workers", "2", "--data", str(tmp_path / "d"),
         "--port", str(first.port), "--s3-port", str(first.s3_port)],
        check=False, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert intruder.returncode != 0
    assert "cannot listen" in intruder.stderr
    assert _fresh_get(f"{first.kos_url}/healthz").status_code == 200


def test_a_failed_start_up_stops_the_supervisor_with_its_message(tmp_path: Any) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "kosha", "serve", "--workers", "2", "--data", str(tmp_path / "d"),
         "--port", "0", "--s3-port", "0"],
        check=False, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "KOSHA_ROOT_ACCESS_KEY": "not a key!"})
    assert started.returncode == 2
    assert "KOSHA_ROOT_ACCESS_KEY must be" in started.stderr
    assert "Started server process" not in started.stderr


def test_metric_files_of_a_killed_supervisor_are_removed_at_the_next_start(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kosha.supervisor import metrics_dir
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"kosha-metrics-{dead.pid}-x"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"\0" * 8)
    alive = tmp_path / f"kosha-metrics-{os.getpid()}-y"
    alive.mkdir()
    fresh = metrics_dir()
    assert not stale.exists() and alive.exists()
    assert fresh.startswith(str(tmp_path / f"kosha-metrics-{os.getpid()}-"))


def test_sigterm_waits_no_longer_than_the_graceful_timeout(
        start_server: Callable[..., KoshaServer]) -> None:
    server = start_server("--workers", "2", "--graceful-timeout", "1")
    s3 = _s3(server)
    s3.create_bucket(Bucket="endless")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "endless", "Key": "k"},
                                    ExpiresIn=300)
    sent_first = threading.Event()

    def body() -> Iterator[bytes]:
        for _ in range(60):
            yield b"z" * 4096
            sent_first.set()
            time.sleep(0.5)
    answer: list[Any] = []

    def upload() -> None:
        try:
            answer.append(httpx.put(url, content=body(), timeout=60,
                                    headers={"content-length": str(60 * 4096)}))
        except httpx.HTTPError as exc:
            answer.append(exc)
    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    assert sent_first.wait(10)
    assert server.process is not None
    stopping = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(20) == 0
    assert time.monotonic() - stopping < 5   # the workers stopped by themselves, not killed
    thread.join(20)
    assert answer and not (isinstance(answer[0], httpx.Response)
                           and answer[0].status_code == 200)


def test_a_write_through_one_worker_is_read_at_once_through_the_other(
        start_server: Callable[..., KoshaServer]) -> None:
    """Each worker answers small GETs from its memo while the file's WAL-index header is
    unchanged (kosha.store.change_probe): a commit of the other worker must move it. Every
    request here comes on a new connection, so either worker may take it."""
    server = start_server("--workers", "2")
    s3 = _s3(server)

    def close_after(request: Any, **_: Any) -> None:
        request.headers["Connection"] = "close"

    s3.meta.events.register("before-send.s3", close_after)
    s3.create_bucket(Bucket="fresh-reads")
    for i in range(30):
        body = f"version {i}".encode()
        s3.put_object(Bucket="fresh-reads", Key="k", Body=body)
        for _ in range(4):
            got = s3.get_object(Bucket="fresh-reads", Key="k")["Body"].read()
            assert got == body, (i, got)
