"""The PostgreSQL target against the machine's PostgreSQL (5432, trust auth), in a database of its own."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import psycopg
import pytest

from kosha.notify.targets import postgresql as pg_target
from kosha.notify.targets.failure import DeliveryFailed
from tests.notify.brokers import deliveries, run, unique
from tests.postgres_db import fresh_database



@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with fresh_database("kosha_notify") as url:
        yield url


def _send(url: str, *batches: list) -> None:
    async def scenario() -> None:
        target = pg_target.make(unique("t"), url)
        try:
            for batch in batches:
                await target.send(batch)
        finally:
            await target.close()
    run(scenario())


def test_table_is_created_and_receives_the_batch_in_order(database: str) -> None:
    table = unique("events_")
    _send(f"{database}?table={table}", deliveries(80), deliveries(20, start=81))
    with psycopg.connect(database) as conn:
        rows = conn.execute(f"SELECT sequence, bucket, key, event_name, body FROM {table} ORDER BY id").fetchall()
    expected = deliveries(100)
    assert [r[0] for r in rows] == [d.sequence for d in expected]
    assert [r[4] for r in rows] == [json.loads(d.body) for d in expected]
    assert rows[4][1:4] == ("photos", "2026/día-5.jpg", "s3:ObjectCreated:Put")


def test_a_schema_qualified_table_is_accepted(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS audit")
    _send(f"{database}?table=audit.kosha_events", deliveries(3))
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM audit.kosha_events").fetchone() == (3,)


def test_listeners_get_the_batch_in_order_on_the_channel(database: str) -> None:
    channel = unique("events_")

    async def scenario() -> list[str]:
        listener = await psycopg.AsyncConnection.connect(database, autocommit=True)
        await listener.execute(f"LISTEN {channel}")
        target = pg_target.make("t", f"{database}?channel={channel}")
        try:
            await target.send(deliveries(50))
            received = []
            async with asyncio.timeout(10):
                async for notice in listener.notifies():
                    received.append(notice.payload)
                    if len(received) == 50:
                        break
            return received
        finally:
            await target.close()
            await listener.close()

    assert run(scenario()) == [d.body.decode() for d in deliveries(50)]


def test_a_terminated_backend_is_replaced_on_the_next_send(database: str) -> None:
    table, name = unique("events_"), unique("term")

    async def scenario() -> None:
        target = pg_target.make(name, f"{database}?table={table}")
        try:
            await target.send(deliveries(5))
            async with await psycopg.AsyncConnection.connect(database, autocommit=True) as admin:
                cursor = await admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                    (f"kosha-notify-{name}",))
                assert await cursor.fetchone() == (1,)
            try:
                await target.send(deliveries(5, start=6))
            except DeliveryFailed:
                pytest.fail("the send after the backend was terminated did not reconnect")
        finally:
            await target.close()

    run(scenario())
    with psycopg.connect(database) as conn:
        assert [r[0] for r in conn.execute(f"SELECT sequence FROM {table} ORDER BY id")] == list(range(1, 11))


def test_a_payload_over_the_notify_limit_fails_with_a_clear_reason(database: str) -> None:
    huge = deliveries(1)[0]
    huge = type(huge)(huge.sequence, huge.bucket, huge.key, huge.event_name, b'{"pad": "' + b"x" * 8000 + b'"}')
    target = pg_target.make("t", f"{database}?channel=events")
    with pytest.raises(DeliveryFailed, match="8000"):
        run(target.send([huge]))


def test_a_refused_login_is_not_shown_in_the_failure(database: str) -> None:
    url = database.replace("postgres@", "nosuchuser:s3cr3t-pass@", 1) if "postgres@" in database else None
    if url is None:
        pytest.skip("KOSHA_TEST_POSTGRES_URL has no user to replace")
    target = pg_target.make("t", f"{url.replace('127.0.0.1', '127.0.0.1:1', 1)}?table=events")
    with pytest.raises(DeliveryFailed) as failure:
        run(target.send(deliveries(1)))
    assert "s3cr3t-pass" not in str(failure.value)


@pytest.mark.parametrize("query", ["", "?table=a&channel=b", "?table=a;drop", "?table=a.b.c", "?channel=x-y"])
def test_a_target_url_that_cannot_work_is_refused_when_made(query: str) -> None:
    with pytest.raises(ValueError):
        pg_target.make("t", f"postgresql://postgres@127.0.0.1:5432/db{query}")
