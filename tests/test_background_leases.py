"""Background work with two real server processes on one data directory: only the lease holder
runs lifecycle and GC, and when it is killed (-9) the other takes over within the lease time; the
temporary file of an upload whose process was killed is removed by the survivor within seconds,
while a live writer's is left alone."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.kos_helpers import create_bucket, temp_files
from tests.api.test_write_path import kosha_cli, operator, stream_upload
from tests.conftest import KoshaServer

LEASE = 3.0
FLAGS = ("--lifecycle-interval", "1", "--lease-seconds", str(LEASE), "--log-level", "info",
         "--access-log", "off")


ADMIN_URL = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def _server(data_dir: Path, tag: str, *extra: str) -> KoshaServer:
    instance = KoshaServer(data_dir, *FLAGS, *extra)
    instance.log_path = data_dir.parent / f"{tag}-server.log"
    return instance.start()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[KoshaServer, KoshaServer]]:
    first = _server(tmp_path / "data", "first")
    second = _server(tmp_path / "data", "second")
    yield first, second
    for instance in (first, second):
        instance.stop()


def holder(data_dir: Path, name: str, postgres_url: str | None = None) -> str | None:
    """The live holder of lease `name`, read from the store's own row."""
    query = "SELECT holder, expires_at FROM leases WHERE name = %s"
    if postgres_url is not None:
        import psycopg
        with psycopg.connect(postgres_url) as pg:
            row = pg.execute(query, (name,)).fetchone()
    else:
        with sqlite3.connect(f"file:{data_dir / 'kosha.db'}?mode=ro", uri=True) as conn:
            row = conn.execute(query.replace("%s", "?"), (name,)).fetchone()
    return row[0] if row is not None and row[1] >= time.time() else None


def pid_of(lease_holder: str | None) -> int | None:
    return None if lease_holder is None else int(lease_holder.split(":")[1])


def runs(server: KoshaServer, job: str) -> int:
    return server.log().count(f"background {job} run:")


def wait_for(predicate, seconds: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, "condition not met in time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_only_the_lease_holder_runs_lifecycle_and_gc(pair: tuple[KoshaServer, KoshaServer]) -> None:
    first, second = pair
    assert first.process is not None
    wait_for(lambda: runs(first, "lifecycle") >= 2 and runs(first, "gc") >= 2, 10)
    assert pid_of(holder(first.data_dir, "lifecycle")) == first.process.pid
    assert (runs(second, "lifecycle"), runs(second, "gc")) == (0, 0)


def test_metrics_say_which_process_holds_each_lease(pair: tuple[KoshaServer, KoshaServer]) -> None:
    first, second = pair
    assert first.process is not None
    wait_for(lambda: pid_of(holder(first.data_dir, "gc")) == first.process.pid, 5)
    assert 'kosha_lease_held{lease="gc"} 1.0' in httpx.get(f"{first.kos_url}/metrics").text
    assert 'kosha_lease_held{lease="gc"} 0.0' in httpx.get(f"{second.kos_url}/metrics").text


def test_a_killed_holder_is_replaced_within_the_lease_time(pair: tuple[KoshaServer, KoshaServer]) -> None:
    first, second = pair
    assert first.process is not None and second.process is not None
    wait_for(lambda: pid_of(holder(first.data_dir, "lifecycle")) == first.process.pid, 5)
    first.kill()
    took = wait_for(lambda: pid_of(holder(second.data_dir, "lifecycle")) == second.process.pid,
                    LEASE + LEASE / 3 + 2)
    assert took <= LEASE + LEASE / 3 + 1
    wait_for(lambda: runs(second, "lifecycle") >= 1, 5)


def test_a_killed_holder_is_replaced_within_the_lease_time_on_postgresql(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    name = f"kosha_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    servers: list[KoshaServer] = []
    try:
        servers = [_server(tmp_path / "data", tag, "--database-url", url) for tag in ("first", "second")]
        first, second = servers
        assert first.process is not None and second.process is not None
        wait_for(lambda: pid_of(holder(first.data_dir, "lifecycle", url)) == first.process.pid, 5)
        first.kill()
        took = wait_for(lambda: pid_of(holder(second.data_dir, "lifecycle", url)) == second.process.pid,
                        LEASE + LEASE / 3 + 2)
        assert took <= LEASE + LEASE / 3 + 1
        wait_for(lambda: runs(second, "lifecycle") >= 1, 5)
    finally:
        for instance in servers:
            instance.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_a_stopped_holder_hands_over_at_once(pair: tuple[KoshaServer, KoshaServer]) -> None:
    first, second = pair
    assert first.process is not None and second.process is not None
    wait_for(lambda: pid_of(holder(first.data_dir, "gc")) == first.process.pid, 5)
    first.stop()
    assert wait_for(lambda: pid_of(holder(second.data_dir, "gc")) == second.process.pid, 5) < LEASE


def test_a_killed_writer_s_temporary_file_is_removed_by_a_survivor_within_seconds(
        pair: tuple[KoshaServer, KoshaServer]) -> None:
    first, _second = pair   # the survivor whose temp-file pass removes the file
    client = operator(first)
    bucket = create_bucket(client)["bucketName"]
    stop = threading.Event()

    def slow_chunks():  # type: ignore[no-untyped-def]
        while not stop.is_set():
            yield b"\xab" * (1 << 20)
            time.sleep(0.05)

    sender = threading.Thread(target=lambda: _quietly(lambda: stream_upload(client, bucket, "big", slow_chunks())))
    sender.start()
    try:
        wait_for(lambda: bool(temp_files(first.data_dir)), 30)
        time.sleep(2.5)  # the survivor's temp-file pass runs every second: a live writer's stays
        assert temp_files(first.data_dir)
        first.kill()
        wait_for(lambda: not temp_files(first.data_dir), 5)
    finally:
        stop.set()
        sender.join(timeout=30)


def test_kosha_gc_removes_a_killed_writer_s_temporary_file_at_once(tmp_path: Path) -> None:
    server = _server(tmp_path / "data", "only")
    client = operator(server)
    bucket = create_bucket(client)["bucketName"]
    stop = threading.Event()

    def slow_chunks():  # type: ignore[no-untyped-def]
        while not stop.is_set():
            yield b"\xab" * (1 << 20)
            time.sleep(0.05)

    sender = threading.Thread(target=lambda: _quietly(lambda: stream_upload(client, bucket, "big", slow_chunks())))
    sender.start()
    try:
        wait_for(lambda: bool(temp_files(server.data_dir)), 30)
        server.kill()
    finally:
        stop.set()
        sender.join(timeout=30)
    assert temp_files(server.data_dir)
    assert kosha_cli("gc", "--data", str(server.data_dir))["temp_files_removed"] >= 1
    assert temp_files(server.data_dir) == []


def _quietly(action) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except httpx.HTTPError:  # the connection dies with the server
        pass
