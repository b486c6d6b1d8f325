"""SQL for the notification outbox and the delivery targets' cursors.

`record` runs inside the transaction of the change it describes: one row of the event's fields
(the AWS JSON is written from them at delivery, kosha.notify.events.message). Within a writer
batch (kosha.store.database) the rows of all its units wait for the batch to settle and go in
one `executemany` before the commit, in the order they were recorded: one statement per batch
instead of one per write, the same transaction, so nothing changes for durability (a unit that
fails rolls its batch back, events included). The worker reads rows in sequence order up to a
horizon below which every row is committed, and moves each target's cursor after delivery.

The horizon: on SQLite, writers are serialised by the database, so rows commit in sequence order
and the horizon is simply the largest sequence. On PostgreSQL two processes may take sequence
numbers in one order and commit in the other, so an inserting transaction holds a shared
advisory lock, and the worker takes the same lock exclusively for the instant it reads the
largest sequence: every row numbered below it has then committed (or rolled back).
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, insert, literal_column, select, update
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from . import schema as s
from .database import BATCH_MEMO, defer_to_settle
from .direct import DirectStatement

t, c = s.notify_outbox, s.notify_cursors
LOCK_KEY = 0x6B6F7368614E   # "koshaN": the outbox's advisory lock on PostgreSQL
PURGE_CHUNK = 5000


class Event(NamedTuple):
    """What an outbox row records of one event (the columns after `seq`, but `message`)."""
    bucket: str
    key: str
    event_name: str
    routes: str          # JSON [[configuration id, target id], ...]
    created_at: float
    size: int | None
    etag: str | None
    version_id: str | None
    region: str
    owner: str
    principal: str
    source_ip: str
    request_id: str


_INSERT = DirectStatement(insert(t).values(
    message=literal_column("''"), **{name: bindparam(name) for name in Event._fields}))
_SHARED = DirectStatement(select(func.pg_advisory_xact_lock_shared(bindparam("l"))))
_AFTER = DirectStatement(select(t.c.seq, t.c.message, *(t.c[name] for name in Event._fields))
                         .where(t.c.seq > bindparam("after"), t.c.seq <= bindparam("upto"))
                         .order_by(t.c.seq).limit(bindparam("n")))


# An outbox row as the worker reads it: `seq`, `message` (pre-0009 rows only), the Event's
# fields. A plain tuple from the DBAPI cursor, named: SQLAlchemy's result rows cost the delivery
# process more than the message built from them.
Row = NamedTuple("Row", [("seq", int), ("message", str), *Event.__annotations__.items()])


_PENDING = "kosha.outbox_pending"   # in the batch memo: the rows waiting for the settle


def record(conn: Connection, event: tuple[Any, ...]) -> None:
    """Add the outbox row of `event` (the values of Event's fields, in order) to the
    transaction: on SQLite at the writer batch's settle, elsewhere at once (PostgreSQL takes
    the shared lock with the row, as the change's own statements run)."""
    memo = conn.info.get(BATCH_MEMO) if conn.dialect.name != "postgresql" else None
    if memo is None:
        insert_events(conn, [event])
        return
    pending = memo.get(_PENDING)
    if pending is None:
        pending = memo[_PENDING] = []
        defer_to_settle(memo, _PENDING, lambda c: insert_events(c, pending))
    pending.append(event)


def insert_events(conn: Connection, events: list[tuple[Any, ...]]) -> None:
    if conn.dialect.name == "postgresql":
        _SHARED.run(conn, {"l": LOCK_KEY})
    _INSERT.run_many(conn, Event._fields, events)


def horizon(conn: Connection) -> int:
    """The largest sequence below which every row is committed (0: none yet)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
    return last(conn)


def last(conn: Connection) -> int:
    """The largest sequence recorded (0: none): one index probe, no lock."""
    return int(conn.execute(_LAST).scalar() or 0)


_LAST = select(func.max(t.c.seq))
LAST_SQL = str(_LAST.compile(dialect=sqlite_dialect()))   # `last` for Database.probe_scalar


def rows_after(conn: Connection, after: int, upto: int, limit: int) -> list[Row]:
    return list(map(Row._make, _AFTER.run(conn, {"after": after, "upto": upto, "n": limit})))


def next_rows(conn: Connection, after: int, limit: int) -> list[Row]:
    """Up to `limit` committed rows after `after`, in sequence order, none skipped: one read."""
    if conn.dialect.name != "postgresql":   # SQLite commits in sequence order
        return rows_after(conn, after, 2**62, limit)
    conn.execution_options(isolation_level="READ COMMITTED")  # readers autocommit: the lock
    upto = horizon(conn)                                       # must last until max() is read
    conn.commit()                           # the exclusive lock ends here, before the read
    return rows_after(conn, after, upto, limit) if upto > after else []


def span(conn: Connection) -> tuple[int, int]:
    """(smallest, largest) sequence in the outbox, (0, 0) when it is empty: two index probes
    (SQLite reads min() and max() from the index only when each is alone in its SELECT)."""
    lo, hi = conn.execute(select(select(func.min(t.c.seq)).scalar_subquery(),
                                 select(func.max(t.c.seq)).scalar_subquery())).one()
    return int(lo or 0), int(hi or 0)


def cursors(conn: Connection) -> dict[str, int]:
    return {r.target_id: int(r.position) for r in conn.execute(select(c.c.target_id, c.c.position))}


def ensure_cursors(conn: Connection, target_ids: list[str]) -> dict[str, int]:
    """Every target's cursor, created at 0 for a target seen for the first time."""
    known = cursors(conn)
    for target_id in target_ids:
        if target_id not in known:
            conn.execute(insert(c).values(target_id=target_id, position=0, updated_at=time.time()))
            known[target_id] = 0
    return known


def advance(conn: Connection, target_id: str, position: int) -> None:
    """Move a cursor forward (never back: two workers racing after a lease change agree)."""
    conn.execute(update(c).where(c.c.target_id == target_id, c.c.position < position)
                 .values(position=position, updated_at=time.time()))


def purge(conn: Connection, upto: int) -> int:
    """Delete up to PURGE_CHUNK of the oldest rows at or below `upto`; answer how many."""
    lo = conn.execute(select(func.min(t.c.seq))).scalar()
    if lo is None or lo > upto:
        return 0
    result = conn.execute(delete(t).where(t.c.seq <= min(upto, int(lo) + PURGE_CHUNK - 1)))
    return int(result.rowcount or 0)
