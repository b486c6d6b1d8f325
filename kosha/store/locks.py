"""Locks that serialise writers of one thing across every process sharing the database.

The writer thread of one process used to be the only thing keeping two commits of one key
apart; with several processes on one database the database itself must do it.

- PostgreSQL: transaction-level advisory locks, released by the commit or the rollback. They
  use the two-int4 key space with a class of our own, which never overlaps the one-bigint key
  space (leases and other locks of the deployment may live there).
- SQLite: the writer's `BEGIN IMMEDIATE` already holds the database's one write lock for the
  whole transaction, so these are no-ops there.

A unit of a grouped transaction must not wait for a key another process holds while holding
keys of its own (two processes would deadlock until PostgreSQL's detector steps in): inside a
group, `lock_keys` only tries, and `Contended` sends the group back to run unit by unit, where
each unit waits for its keys alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import Connection, text

from .direct import DirectStatement

OBJECT_KEY = 0x4B4F0001   # one (bucket, key): version commits, deletes, copies, completions
BOOTSTRAP = 0x4B4F0002    # creating the operator on an empty database
MIGRATION = 0x4B4F0003    # schema migrations at start-up (a session lock: see migrate.py)

_LOCK = DirectStatement(text("SELECT pg_advisory_xact_lock(:c, hashtext(:n))"))
_TRY = DirectStatement(text("SELECT pg_try_advisory_xact_lock(:c, hashtext(:n))"))
_mode = threading.local()


class Contended(Exception):
    """A key is held by another transaction while this one runs in a group: run alone."""


def grouped(on: bool) -> None:
    """Whether units on this thread now run inside a grouped transaction (set by Database)."""
    _mode.grouped = on


def in_group() -> bool:
    return bool(getattr(_mode, "grouped", False))


def key_name(bucket: str, key: str) -> str:
    """What a (bucket, key) lock is hashed from (statements that take it themselves use it)."""
    return f"{bucket}/{key}"


def lock_keys(conn: Connection, bucket: str, keys: Iterable[str]) -> None:
    """Hold each (bucket, key) until this transaction ends, taken in one order (no deadlock
    between two units that want the same two keys)."""
    if conn.dialect.name != "postgresql":
        return
    try_only = in_group()
    for key in sorted(set(keys)):
        name = key_name(bucket, key)
        if try_only:
            if not _TRY.run(conn, {"c": OBJECT_KEY, "n": name})[0][0]:
                raise Contended(name)
        else:
            _LOCK.run(conn, {"c": OBJECT_KEY, "n": name})


def lock_pairs(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """`lock_keys` for keys of several buckets (copies and moves between buckets)."""
    for bucket, key in sorted(set(pairs)):
        lock_keys(conn, bucket, [key])


def lock_bootstrap(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, 0)"), {"c": BOOTSTRAP})
