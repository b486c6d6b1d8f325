"""Pipelined durable commits on real SQLite (kosha.store.wal_sync): a write is answered only
after a sync that started after its commit, one sync answers every batch committed during the
one before it, and a failed sync fails its writes and every later one.

The sync is injected: `GatedSync` is a fake fdatasync that the test holds, releases or makes
fail; everything else (SQLite, the writer and syncer threads, the delivery worker) is real."""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from kosha.errors import Unavailable
from kosha.notify.targets.base import Delivery
from kosha.notify.worker import DeliveryWorker
from kosha.store import outbox
from kosha.store import schema as s
from kosha.store.database import Database

WAIT = 5.0


class GatedSync:
    """A fake fdatasync: counts its calls and returns only when the test opens the gate (or
    raises EIO once told to fail)."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self) -> None:
        self.calls += 1
        self.entered.release()
        assert self.gate.wait(WAIT * 2)
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")


@pytest.fixture
def sync() -> GatedSync:
    return GatedSync()


@pytest.fixture
def db(tmp_path: Path, sync: GatedSync) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'kosha.db'}", sync=sync)
    database.create_schema()
    try:
        yield database
    finally:
        sync.gate.set()
        database.close()


def _add_bucket(conn: Any, name: str) -> None:
    conn.execute(insert(s.buckets).values(
        name=name, krn=f"krn:{name}", account_id="a", owner="o", region="r", tier="t", tags={},
        versioning="", acl="private", created_at=0.0, used_capacity=0, object_count=0))


def _visible(db: Database, name: str) -> bool:
    return db.read_sync(lambda conn: conn.execute(
        select(s.buckets.c.name).where(s.buckets.c.name == name)).first()) is not None


def _until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _held(sync: GatedSync) -> None:
    """Close the gate and wait for the syncer to enter a sync behind it."""
    while sync.entered.acquire(blocking=False):
        pass
    sync.gate.clear()


def test_a_write_is_answered_only_after_its_sync_returns(db: Database, sync: GatedSync) -> None:
    _held(sync)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(db.write_sync, _add_bucket, "b1")
        assert sync.entered.acquire(timeout=WAIT)
        _until(lambda: _visible(db, "b1"))   # committed: readers see it before it is durable
        time.sleep(0.1)
        assert not answer.done()
        sync.gate.set()
        answer.result(timeout=WAIT)


def test_batches_committed_during_one_sync_are_all_answered_by_the_next(db: Database,
                                                                        sync: GatedSync) -> None:
    _held(sync)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(db.write_sync, _add_bucket, "first")
        assert sync.entered.acquire(timeout=WAIT)
        calls = sync.calls
        later: list[Future[Any]] = []
        for name in ("second", "third"):   # each its own batch: the writer is not waiting on the sync
            later.append(pool.submit(db.write_sync, _add_bucket, name))
            _until(lambda name=name: _visible(db, name))
        sync.gate.set()
        first.result(timeout=WAIT)
        for answer in later:
            answer.result(timeout=WAIT)
    assert sync.calls == calls + 1


def test_a_failed_sync_fails_its_write_and_every_later_one(db: Database, sync: GatedSync) -> None:
    sync.fail = True
    with pytest.raises(Unavailable, match="could not be made durable"):
        db.write_sync(_add_bucket, "lost")
    sync.fail = False
    with pytest.raises(Unavailable, match="could not be made durable"):
        db.write_sync(_add_bucket, "after")
    assert not _visible(db, "after")


def test_a_failed_sync_fails_the_writes_of_the_event_loop_too(db: Database,
                                                              sync: GatedSync) -> None:
    sync.fail = True

    async def put() -> None:
        await db.write(_add_bucket, "lost")

    with pytest.raises(Unavailable):
        asyncio.run(put())


class RecordingTarget:
    """A fake delivery target: remembers what it was sent."""

    id, kind = "rec", "fake"

    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    async def send(self, batch: list[Delivery]) -> None:
        self.sent.extend(batch)

    async def close(self) -> None:
        pass


def _event(conn: Any, key: str) -> None:
    outbox.insert_event(conn, outbox.Event("b", key, "ObjectCreated:Put", '[["c", "rec"]]',
                                           0.0, 1, "e", None, "r", "o", "p", "", ""))


def test_the_delivery_worker_sends_an_event_only_once_its_row_is_durable(
        db: Database, sync: GatedSync) -> None:
    target = RecordingTarget()
    worker = DeliveryWorker(db, {"rec": target})
    stop = threading.Event()

    async def deliver() -> None:
        await worker.run(stop.is_set)

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(asyncio.run, deliver())
        try:
            time.sleep(0.3)   # the worker has saved its cursor and waits for events
            _held(sync)
            write = pool.submit(db.write_sync, _event, "k")
            _until(lambda: db.read_sync(outbox.last) > 0)   # committed, its sync held
            time.sleep(0.5)   # several polls of the outbox
            assert target.sent == []
            sync.gate.set()
            write.result(timeout=WAIT)
            _until(lambda: len(target.sent) == 1)
        finally:
            sync.gate.set()
            stop.set()
        running.result(timeout=WAIT * 2)
    assert target.sent[0].key == "k"
