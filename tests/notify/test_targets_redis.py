"""The Redis target against the machine's Redis (6379) and a redis-server of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kosha.notify.targets import redis as redis_target
from kosha.notify.targets.failure import DeliveryFailed
from tests.notify.brokers import OwnBroker, deliveries, redis_server, run, unique

REDIS = "127.0.0.1:6379"


@pytest.fixture
def shared() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys: list[str] = []
    client.test_keys = keys  # type: ignore[attr-defined]
    yield client
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = redis_server(tmp_path)
    broker.start()
    yield broker
    broker.kill()


def _key(client: redis.Redis, prefix: str) -> str:
    key = unique(prefix)
    client.test_keys.append(key)  # type: ignore[attr-defined]
    return key


def _send(url: str, *batches: int) -> None:
    async def scenario() -> None:
        target = redis_target.make("t", url)
        start = 1
        try:
            for count in batches:
                await target.send(deliveries(count, start=start))
                start += count
        finally:
            await target.close()
    run(scenario())


def test_stream_entries_arrive_in_order_with_their_fields(shared: redis.Redis) -> None:
    stream = _key(shared, "kosha-test-stream-")
    _send(f"redis://{REDIS}/0?stream={stream}", 150)
    entries = [fields for _, fields in shared.xrange(stream)]
    expected = deliveries(150)
    assert [e[b"body"] for e in entries] == [d.body for d in expected]
    assert entries[7] == {b"sequence": b"8", b"bucket": b"photos", b"key": "2026/día-8.jpg".encode(),
                          b"event_name": b"s3:ObjectCreated:Put", b"body": expected[7].body}


def test_list_elements_are_the_event_messages_in_order(shared: redis.Redis) -> None:
    key = _key(shared, "kosha-test-list-")
    _send(f"redis://{REDIS}/0?list={key}", 40, 60)
    assert shared.lrange(key, 0, -1) == [d.body for d in deliveries(100)]


def test_maxlen_trims_the_stream_near_the_limit(shared: redis.Redis) -> None:
    stream = _key(shared, "kosha-test-stream-")
    _send(f"redis://{REDIS}/0?stream={stream}&maxlen=100", *([100] * 10))
    assert 100 <= shared.xlen(stream) < 1000


def test_a_connection_killed_by_the_server_is_replaced_on_the_next_send(shared: redis.Redis) -> None:
    key = _key(shared, "kosha-test-list-")
    name = unique("kill-")

    async def scenario() -> None:
        target = redis_target.make(name, f"redis://{REDIS}/0?list={key}")
        try:
            await target.send(deliveries(5))
            killed = 0
            for client in shared.client_list():
                if client.get("name") == f"kosha-notify-{name}":
                    killed += shared.execute_command("CLIENT KILL ID", client["id"])
            assert killed == 1
            await target.send(deliveries(5, start=6))
        finally:
            await target.close()

    run(scenario())
    assert shared.lrange(key, 0, -1) == [d.body for d in deliveries(10)]


def test_send_fails_while_redis_is_down_and_succeeds_after_it_returns(own_redis: OwnBroker) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0?list=events"

    async def scenario() -> None:
        target = redis_target.make("t", url)
        try:
            await target.send(deliveries(5))
            own_redis.kill()
            with pytest.raises(DeliveryFailed):
                await target.send(deliveries(5, start=6))
            own_redis.start()
            await target.send(deliveries(5, start=6))
        finally:
            await target.close()

    run(scenario())
    client = redis.Redis(host="127.0.0.1", port=own_redis.port)
    assert client.lrange("events", 0, -1) == [d.body for d in deliveries(10)]
    client.close()


def test_a_refused_password_is_not_shown_in_the_failure() -> None:
    target = redis_target.make("t", f"redis://kosha:s3cr3t-pass@{REDIS}/0?list=never")
    with pytest.raises(DeliveryFailed) as failure:
        run(target.send(deliveries(1)))
    assert "s3cr3t-pass" not in str(failure.value)


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0",
    "redis://127.0.0.1:6379/0?stream=a&list=b",
    "redis://127.0.0.1:6379/0?list=b&maxlen=10",
    "redis://127.0.0.1:6379/zero?list=b",
    "redis://127.0.0.1:6379/0?list=b&maxlen=x",
    "redis://127.0.0.1:6379/0?lsit=b",
])
def test_a_target_url_that_cannot_work_is_refused_when_made(url: str) -> None:
    with pytest.raises(ValueError):
        redis_target.make("t", url)
