"""The database writer's group commit on real SQLite and PostgreSQL (kosha.store.database):
concurrent writers share one durable commit, and a new version row reads back as written."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from kosha import metrics
from kosha.errors import PreconditionFailed
from kosha.store import blob_refs
from kosha.store import objects as sql
from kosha.store import schema as s
from kosha.store.database import Database

from tests.store.conftest import Batch

WRITERS = 16
ROUNDS = 20


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
        db: Database, one_batch: Batch) -> None:
    """Version commits of one batch read the bucket's state once (Database.BATCH_MEMO); a unit
    between them that may change the bucket empties what they remembered."""
    def enable(conn: Any) -> None:
        conn.execute(update(s.buckets).where(s.buckets.c.name == "b").values(versioning="Enabled"))

    def content() -> sql.Content:
        return sql.Content(size=1, etag="e" * 32, blobs=[], inline_data=b"x")

    done, commits = one_batch(db, [
        db.write(sql.commit_version, "b", "before", content(), {}, 1000.0),
        db.write(enable),
        db.write(sql.commit_version, "b", "after", content(), {}, 1000.0)])
    assert commits == 2, "the three units were not one batch"
    (before, _), _, (after, _) = done
    assert before.version_id == "null"
    assert after.version_id != "null"


def _bucket_counts(db: Database) -> tuple[int, int]:
    row = db.read_sync(lambda conn: conn.execute(
        select(s.buckets.c.used_capacity, s.buckets.c.object_count)
        .where(s.buckets.c.name == "b")).one())
    return int(row[0]), int(row[1])


def test_an_overwrite_rewrites_the_version_in_place_and_keeps_the_counts_exact(
        db: Database) -> None:
    """Versioning never enabled: an overwrite rewrites the key's one row (same seq, no index
    touched); it reads back as written, and the bucket's bytes and objects are exact."""
    first = db.write_sync(_put, "k", b"x" * 10, {"content_type": "text/plain"})
    attrs = {"content_type": "image/png", "headers": {"cache-control": "no-cache"},
             "user_meta": {"a": "1"}, "checksums": {"CRC32": "AAAAAA=="}, "tags": {"t": "v"},
             "acl": "public-read", "owner": "o2"}
    second = db.write_sync(_put, "k", b"y" * 25, attrs)
    read = db.read_sync(sql.latest, "b", "k")
    assert dict(second._mapping) == dict(read._mapping)
    assert second.seq == first.seq and read.inline_data == b"y" * 25
    assert _bucket_counts(db) == (25, 1)
    rows = db.read_sync(lambda conn: conn.execute(
        select(func.count()).select_from(s.objects).where(s.objects.c.key == "k")).scalar())
    assert rows == 1


def test_an_overwrite_in_place_frees_the_blob_it_replaced(db: Database) -> None:
    def put_blob(conn: Any) -> Any:
        content = sql.Content(size=100, etag="e" * 32, blobs=[["blob-1", 100]])
        return sql.commit_version(conn, "b", "big", content, {}, 1000.0)

    _row, freed = db.write_sync(put_blob)
    assert freed == []
    row, freed = db.write_sync(lambda conn: sql.commit_version(
        conn, "b", "big", sql.Content(size=3, etag="f" * 32, blobs=[], inline_data=b"abc"), {}, 1001.0))
    assert freed == ["blob-1"] and row.blobs == [] and row.inline_data == b"abc"
    assert db.read_sync(blob_refs.known, ["blob-1"]) == set()
    assert _bucket_counts(db) == (3, 1)
    read = db.read_sync(sql.latest, "b", "big")
    assert read.blobs == [] and read.size == 3 and read.last_modified == 1001.0


def test_an_overwrite_checks_its_preconditions_against_the_row_it_replaces(db: Database) -> None:
    db.write_sync(_put, "p", b"old", {})

    def put_if(conn: Any, etag: str) -> Any:
        content = sql.Content(size=3, etag="f" * 32, blobs=[], inline_data=b"new")
        return sql.commit_version(conn, "b", "p", content, {}, 1000.0, sql.Preconditions(if_match=etag))

    with pytest.raises(PreconditionFailed):
        db.write_sync(put_if, "0" * 32)
    assert db.read_sync(sql.latest, "b", "p").inline_data == b"old"
    db.write_sync(put_if, "e" * 32)
    assert db.read_sync(sql.latest, "b", "p").inline_data == b"new"
    assert _bucket_counts(db) == (3, 1)


def test_a_batch_writes_its_bucket_counts_once_and_exactly(db: Database,
                                                           one_batch: Batch) -> None:
    """Version commits of one batch pile up their bucket's count changes (one UPDATE per
    bucket, before the commit); a unit between them that may read the counts sees every
    change made before it."""
    db.write_sync(_put, "grows", b"x" * 10, {})

    def counts(conn: Any) -> tuple[int, int]:
        row = conn.execute(select(s.buckets.c.used_capacity, s.buckets.c.object_count)
                           .where(s.buckets.c.name == "b")).one()
        return int(row[0]), int(row[1])

    first = [db.write(_put, f"new/{i}", b"y" * (i + 1), {}) for i in range(5)]
    first.append(db.write(_put, "grows", b"x" * 30, {}))
    later = [db.write(_put, f"later/{i}", b"z" * 7, {}) for i in range(3)]
    done, commits = one_batch(db, [*first, db.write(counts), *later])
    assert commits == 2, "the units were not one batch"
    assert done[len(first)] == (1 + 2 + 3 + 4 + 5 + 30, 6)
    assert _bucket_counts(db) == (15 + 30 + 21, 9)
