"""Fixtures of the store's tests: a real database, SQLite or PostgreSQL, with one bucket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import insert

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
