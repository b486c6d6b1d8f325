"""The outbox rows of writes that share the writer's transaction (kosha.store.outbox.record), on
real SQLite (where a batch's rows wait for its settle) and PostgreSQL (where each goes at once):
one row per committed write, in the order of the writes, none for a write that failed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kosha.errors import PreconditionFailed
from kosha.notify.events import Origin
from kosha.notify.recorder import BucketInfo, Gate, Recorder
from kosha.store import objects as sql
from kosha.store import schema as s
from kosha.store.database import BATCH_MEMO, Database

from tests.store.conftest import Batch

CONFIGS = [{"id": "c", "arn": "arn:kosha:sqs:r:hook:webhook", "events": ["s3:ObjectCreated:*"],
            "prefix": "", "suffix": ""}]


def _recorder(request_id: str) -> Recorder:
    return Recorder(Gate(10**6), {"b": BucketInfo("b", "o", "r", CONFIGS)}, frozenset({"hook"}),
                    Origin("kc-1", "127.0.0.1", request_id), 1000.0)


def _put(conn: Any, key: str, if_match: str | None = None) -> Any:
    content = sql.Content(size=1, etag="e" * 32, blobs=[], inline_data=b"x")
    return sql.commit_version(conn, "b", key, content, {}, 1000.0,
                              sql.Preconditions(if_match=if_match), _recorder(f"req-{key}"))


def _outbox(conn: Any) -> list[tuple[str, str]]:
    t = s.notify_outbox
    return [(r.key, r.request_id) for r in conn.execute(
        select(t.c.key, t.c.request_id).order_by(t.c.seq))]


def test_the_writes_of_one_batch_record_one_row_each_in_their_order(
        db: Database, one_batch: Batch) -> None:
    keys = [f"k{i}" for i in (3, 1, 4, 0, 2)]
    _, commits = one_batch(db, [db.write(_put, key) for key in keys])
    assert commits == 2, "the writes were not one batch"
    assert db.read_sync(_outbox) == [(key, f"req-{key}") for key in keys]


def test_a_write_that_fails_in_a_batch_records_nothing_and_the_others_once(
        db: Database, one_batch: Batch) -> None:
    db.write_sync(_put, "guarded")
    before = db.read_sync(_outbox)
    results, _ = one_batch(db, [
        db.write(_put, "a"),
        db.write(_put, "guarded", "0" * 32),   # its ETag is e...e: fails
        db.write(_put, "b"),
    ])
    assert isinstance(results[1], PreconditionFailed)
    assert db.read_sync(_outbox)[len(before):] == [("a", "req-a"), ("b", "req-b")]


def test_a_unit_after_writes_in_their_batch_sees_their_rows(db: Database,
                                                            one_batch: Batch) -> None:
    def rows(conn: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(s.notify_outbox)).scalar())

    results, _ = one_batch(db, [db.write(_put, "first"), db.write(_put, "second"),
                                db.write(rows), db.write(_put, "third")])
    assert results[2] == 2
    assert [key for key, _ in db.read_sync(_outbox)] == ["first", "second", "third"]


def test_a_row_recorded_outside_a_writer_batch_goes_in_at_once(db: Database) -> None:
    def alone(conn: Any) -> list[tuple[str, str]]:
        conn.info.pop(BATCH_MEMO, None)   # a transaction of its own: no settle will come
        _put(conn, "alone")
        return _outbox(conn)

    assert db.write_sync(alone) == [("alone", "req-alone")]
