"""The database writer's group commit on real SQLite and PostgreSQL (kosha.store.database):
concurrent writers share one durable commit, and a new version row reads back as written."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from kosha import metrics
from kosha.store import objects as sql
from kosha.store import schema as s
from kosha.store.database import Database

from tests.postgres_db import fresh_database

WRITERS = 16
ROUNDS = 20


@contextmanager
def _url(engine: str, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'kosha.db'}"
        return
    with fresh_database("kosha_group") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with _url(request.param, tmp_path) as url:
        database = Database(url)
        try:
            yield from _with_bucket(database)
        finally:
            database.close()


def _with_bucket(database: Database) -> Iterator[Database]:
    database.create_schema()
    database.write_sync(lambda conn: conn.execute(insert(s.buckets).values(
        name="b", krn="krn:b", account_id="a", owner="o", region="r", tier="t", tags={},
        versioning="", acl="private", created_at=0.0, used_capacity=0, object_count=0)))
    yield database


def _commits() -> tuple[float, float]:
    return metrics.DB_COMMITS._value.get(), metrics.DB_WRITES._value.get()


def _put(conn: Any, key: str, data: bytes, attrs: dict[str, Any]) -> Any:
    content = sql.Content(size=len(data), etag="e" * 32, blobs=[], inline_data=data)
    return sql.commit_version(conn, "b", key, content, attrs, 1000.0)[0]


def test_writers_that_come_straight_back_share_their_commits(db: Database) -> None:
    async def writer(n: int) -> None:
        for r in range(ROUNDS):
            await db.write(_put, f"w{n}/{r}", b"x" * 4096, {})

    async def all_writers() -> None:
        await asyncio.gather(*(writer(n) for n in range(WRITERS)))

    commits, writes = _commits()
    asyncio.run(all_writers())
    commits, writes = _commits()[0] - commits, _commits()[1] - writes
    assert writes == WRITERS * ROUNDS
    assert commits <= writes / 4, f"{writes} writes in {commits} commits"


def test_a_lone_writer_commits_each_write_at_once(db: Database) -> None:
    async def alone() -> None:
        for r in range(10):
            await db.write(_put, f"alone/{r}", b"x", {})

    commits = _commits()[0]
    asyncio.run(alone())
    assert _commits()[0] - commits == 10


def test_a_new_version_row_reads_back_as_it_was_written(db: Database) -> None:
    attrs = {"content_type": "text/plain", "headers": {"cache-control": "no-cache"},
             "user_meta": {"a": "1"}, "checksums": {"CRC32": "AAAAAA=="}, "tags": {"t": "v"},
             "acl": "private", "owner": "o"}
    written = db.write_sync(_put, "same", b"bytes", attrs)
    read = db.read_sync(sql.latest, "b", "same")
    assert dict(written._mapping) == dict(read._mapping)


def test_a_version_commit_after_a_versioning_change_in_its_batch_sees_the_change(
        db: Database) -> None:
    """Version commits of one batch read the bucket's state once (Database.BATCH_MEMO); a unit
    between them that may change the bucket empties what they remembered."""
    gate = threading.Event()

    def enable(conn: Any) -> None:
        conn.execute(update(s.buckets).where(s.buckets.c.name == "b").values(versioning="Enabled"))

    def content() -> sql.Content:
        return sql.Content(size=1, etag="e" * 32, blobs=[], inline_data=b"x")

    async def batch() -> list[Any]:
        held = asyncio.ensure_future(db.write(lambda conn: gate.wait(10)))
        await asyncio.sleep(0.2)           # the writer is inside the held unit: these queue up
        units = [db.write(sql.commit_version, "b", "before", content(), {}, 1000.0),
                 db.write(enable),
                 db.write(sql.commit_version, "b", "after", content(), {}, 1000.0)]
        tasks = [asyncio.ensure_future(u) for u in units]
        await asyncio.sleep(0.2)
        commits = _commits()[0]
        gate.set()
        await held
        done = await asyncio.gather(*tasks)
        assert _commits()[0] - commits == 2, "the three units were not one batch"
        return done

    (before, _), _, (after, _) = asyncio.run(batch())
    assert before.version_id == "null"
    assert after.version_id != "null"
