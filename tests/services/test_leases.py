"""Leases on the real engines: one holder at a time, renewal, expiry and takeover, release.

The statement-level tests run on SQLite and on the machine's PostgreSQL (a database made for the
module); `run_while_held` runs two holders against one in-process Kosha.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from kosha.services.leases import LeaseService
from kosha.store import leases as sql
from kosha.store.migrate import upgrade

from .inprocess import Live

ADMIN_URL = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")
T = 1_000_000.0


def _postgres(name: str) -> Any:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    return admin


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('leases') / 'kosha.db'}"
        admin = None
    else:
        name = f"kosha_test_{uuid.uuid4().hex[:12]}"
        admin = _postgres(name)
        url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    made = create_engine(url)
    upgrade(made)
    yield made
    made.dispose()
    if admin is not None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def acquire(engine: Engine, name: str, holder: str, now: float, ttl: float = 10) -> bool:
    with engine.begin() as conn:
        return sql.acquire(conn, name, holder, now, ttl)


def fresh() -> str:
    return f"job-{uuid.uuid4().hex[:8]}"


def test_a_free_lease_is_taken(engine: Engine) -> None:
    assert acquire(engine, fresh(), "a", T)


def test_a_live_lease_refuses_another_holder(engine: Engine) -> None:
    name = fresh()
    acquire(engine, name, "a", T)
    assert not acquire(engine, name, "b", T + 9)


def test_the_holder_renews_its_own_lease(engine: Engine) -> None:
    name = fresh()
    acquire(engine, name, "a", T)
    assert acquire(engine, name, "a", T + 9)
    assert not acquire(engine, name, "b", T + 15)   # renewed at T+9: live until T+19


def test_an_expired_lease_is_taken_over(engine: Engine) -> None:
    name = fresh()
    acquire(engine, name, "a", T)
    assert acquire(engine, name, "b", T + 10.5)
    with engine.connect() as conn:
        assert sql.holder(conn, name, T + 10.5) == "b"


def test_a_released_lease_is_free_at_once(engine: Engine) -> None:
    name = fresh()
    acquire(engine, name, "a", T)
    with engine.begin() as conn:
        sql.release(conn, name, "a")
    assert acquire(engine, name, "b", T + 1)


def test_release_by_a_former_holder_leaves_the_new_one(engine: Engine) -> None:
    name = fresh()
    acquire(engine, name, "a", T)
    acquire(engine, name, "b", T + 11)
    with engine.begin() as conn:
        sql.release(conn, name, "a")
    assert not acquire(engine, name, "a", T + 12)


# -- run_while_held: two holders on one store --------------------------------------------------

def _holder(live: Live, name: str, ttl: float) -> LeaseService:
    service = LeaseService(live.kosha)
    service.named, service.ttl = name, ttl
    return service


def test_only_one_holder_runs_passes_and_the_other_takes_over_when_it_stops(live: Live) -> None:
    ran: list[str] = []

    async def scenario() -> None:
        a, b = _holder(live, "a", 0.6), _holder(live, "b", 0.6)
        task_a = asyncio.create_task(a.run_while_held("job", lambda: ran.append("a"), 0.05))
        await asyncio.sleep(0.3)
        task_b = asyncio.create_task(b.run_while_held("job", lambda: ran.append("b"), 0.05))
        await asyncio.sleep(1.0)
        assert set(ran) == {"a"}
        task_a.cancel()
        await asyncio.gather(task_a, return_exceptions=True)
        await asyncio.sleep(1.0)
        task_b.cancel()
        await asyncio.gather(task_b, return_exceptions=True)

    live.run(scenario())
    assert "b" in ran and ran[ran.index("b"):] == ["b"] * (len(ran) - ran.index("b"))


def test_a_holder_that_stops_renewing_is_replaced_within_the_lease_time(live: Live) -> None:
    async def scenario() -> float:
        a, b = _holder(live, "a", 0.9), _holder(live, "b", 0.9)
        assert await a.acquire("job")   # then never renews, as if killed
        started = asyncio.get_running_loop().time()
        while not await b.acquire("job"):
            await asyncio.sleep(0.05)
        return asyncio.get_running_loop().time() - started

    assert live.run(scenario()) <= 0.9 + 0.2


def test_a_lease_held_by_another_is_tried_without_a_commit(live: Live) -> None:
    async def scenario() -> tuple[bool, int, int]:
        a, b = _holder(live, "a", 5.0), _holder(live, "b", 5.0)
        assert await a.acquire("job")
        before = live.kosha.db.generation   # moves with every batch this process commits
        taken = await b.acquire("job")
        return taken, before, live.kosha.db.generation

    taken, before, after = live.run(scenario())
    assert not taken and after == before
