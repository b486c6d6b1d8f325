"""Fixtures of the store's tests: a real database, SQLite or PostgreSQL, with one bucket, and
a way to run units of work as one batch of its writer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from kosha import metrics
from kosha.store import schema as s
from kosha.store.database import Database

from tests.postgres_db import fresh_database


@contextmanager
def _url(engine: str, tmp_path: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'kosha.db'}"
        return
    with fresh_database("kosha_group") as url:
        yield url.replace("postgresql://", "postgresql+psycopg://")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database (each engine in turn) holding bucket `b`, unversioned."""
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


Batch = Callable[[Database, list[Awaitable[Any]]], tuple[list[Any], float]]


@pytest.fixture
def one_batch() -> Batch:
    """Run writes (`db.write(...)` coroutines) as one batch of the writer: queued while another
    unit holds it. Answers their results (an exception as its result), in order, and how many
    commits the writer made from its release (2 when they were one batch: the holder's, theirs)."""
    def run(db: Database, units: list[Awaitable[Any]]) -> tuple[list[Any], float]:
        gate = threading.Event()

        async def batch() -> tuple[list[Any], float]:
            held = asyncio.ensure_future(db.write(lambda conn: gate.wait(10)))
            await asyncio.sleep(0.2)           # the writer is inside the held unit: these queue up
            tasks = [asyncio.ensure_future(unit) for unit in units]
            await asyncio.sleep(0.2)
            commits = metrics.DB_COMMITS._value.get()
            gate.set()
            await held
            done = await asyncio.gather(*tasks, return_exceptions=True)
            return done, metrics.DB_COMMITS._value.get() - commits

        return asyncio.run(batch())
    return run
