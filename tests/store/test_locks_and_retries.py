"""The database-side pieces of "one store, many processes", on the real engines: key locks, the
classification of lost races, and the SQLite memo seeing another connection's write."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from kosha.errors import Unavailable
from kosha.store import locks, retry
from kosha.store import schema as s
from kosha.store.database import Database

ADMIN_URL = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    name = f"kosha_locks_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, v int)"))
        conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    yield engine
    engine.dispose()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_a_deadlock_between_two_transactions_is_a_race_worth_retrying(pg: Engine) -> None:
    a, b = pg.connect(), pg.connect()
    a.begin()
    b.begin()
    a.execute(text("UPDATE t SET v = v + 1 WHERE id = 1"))
    b.execute(text("UPDATE t SET v = v + 1 WHERE id = 2"))
    failures: list[BaseException] = []

    def cross(conn: Any, row: int) -> None:
        try:
            conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": row})
        except DBAPIError as exc:
            failures.append(exc)

    other = threading.Thread(target=cross, args=(a, 2))
    other.start()
    cross(b, 1)
    if not failures:
        b.rollback()
    other.join(timeout=30)
    a.rollback()
    b.rollback()
    a.close()
    b.close()
    assert len(failures) == 1 and retry.retryable(failures[0])


def test_a_key_another_transaction_holds_makes_a_grouped_unit_step_aside(pg: Engine) -> None:
    holder, waiter = pg.connect(), pg.connect()
    with holder.begin():
        locks.lock_keys(holder, "bkt", ["k"])
        with waiter.begin():
            locks.grouped(True)
            try:
                with pytest.raises(locks.Contended):
                    locks.lock_keys(waiter, "bkt", ["k"])
            finally:
                locks.grouped(False)
    holder.close()
    waiter.close()


def test_a_key_lock_that_times_out_is_a_race_worth_retrying(pg: Engine) -> None:
    holder, waiter = pg.connect(), pg.connect()
    with holder.begin():
        locks.lock_keys(holder, "bkt", ["slow"])
        with pytest.raises(Exception) as info:   # the driver's own: the lock runs on its cursor
            with waiter.begin():
                waiter.execute(text("SET LOCAL lock_timeout = '50ms'"))
                locks.lock_keys(waiter, "bkt", ["slow"])
    holder.close()
    waiter.close()
    assert retry.retryable(info.value)


def test_other_keys_and_other_buckets_do_not_wait(pg: Engine) -> None:
    holder, other = pg.connect(), pg.connect()
    with holder.begin():
        locks.lock_keys(holder, "bkt", ["k"])
        with other.begin():
            locks.grouped(True)
            try:
                locks.lock_keys(other, "bkt", ["k2"])
                locks.lock_pairs(other, [("bkt2", "k")])
            finally:
                locks.grouped(False)
    holder.close()
    other.close()


def test_giving_up_answers_503_not_500() -> None:
    assert isinstance(retry.gave_up(None), Unavailable) and retry.gave_up(None).status == 503


def test_the_sqlite_memo_sees_a_write_another_connection_made(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kosha.db'}")
    try:
        db.create_schema()
        db.write_sync(lambda conn: conn.execute(insert(s.accounts).values(
            account_id="a1", name="before", created_at=0.0)))

        def name(conn: Any) -> str:
            return str(conn.execute(text("SELECT name FROM accounts WHERE account_id = 'a1'")).scalar())

        async def read() -> str:
            return await db.read_memo(("account", "a1"), name)

        assert asyncio.run(read()) == "before"
        outside = sqlite3.connect(tmp_path / "kosha.db", timeout=30)   # another process's writer
        with outside:
            outside.execute("UPDATE accounts SET name = 'after' WHERE account_id = 'a1'")
        outside.close()
        assert asyncio.run(read()) == "after"
    finally:
        db.close()
