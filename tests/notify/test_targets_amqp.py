"""The AMQP target against the machine's RabbitMQ (5672, guest/guest)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

import aio_pika
import pytest

from kosha.notify.targets import amqp as amqp_target
from kosha.notify.targets.failure import DeliveryFailed
from tests.notify.brokers import deliveries, run, unique

RABBIT = "guest:guest@127.0.0.1:5672"


async def _consumer(exchange: str, routing_key: str) -> tuple[aio_pika.abc.AbstractConnection,
                                                             aio_pika.abc.AbstractQueue]:
    connection = await aio_pika.connect(f"amqp://{RABBIT}/")
    channel = await connection.channel()
    await channel.declare_exchange(exchange, "topic", durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key)
    return connection, queue


async def _drain(queue: aio_pika.abc.AbstractQueue, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    messages = []
    async with queue.iterator() as iterator:
        async for message in iterator:
            await message.ack()
            messages.append(message)
            if len(messages) == count:
                break
    return messages


async def _delete_exchange(name: str) -> None:
    connection = await aio_pika.connect(f"amqp://{RABBIT}/")
    channel = await connection.channel()
    await channel.exchange_delete(name)
    await connection.close()


def test_a_batch_arrives_in_order_persistent_with_its_properties() -> None:
    exchange = unique("kosha-test-")

    async def scenario() -> list[aio_pika.abc.AbstractIncomingMessage]:
        connection, queue = await _consumer(exchange, "events.#")
        target = amqp_target.make("t", f"amqp://{RABBIT}/%2F?exchange={exchange}&routing_key=events.put")
        try:
            await target.send(deliveries(200))
            return await asyncio.wait_for(_drain(queue, 200), 10)
        finally:
            await target.close()
            await connection.close()
            await _delete_exchange(exchange)

    messages = run(scenario())
    assert [m.body for m in messages] == [d.body for d in deliveries(200)]
    first = messages[0]
    assert (first.delivery_mode, first.content_type, first.type) == (
        aio_pika.DeliveryMode.PERSISTENT, "application/json", "s3:ObjectCreated:Put")
    assert len({m.message_id for m in messages}) == 200 and first.message_id.startswith("1-")
    assert json.loads(first.body)["Records"][0]["s3"]["object"]["key"] == "2026/día-1.jpg"


def test_a_missing_exchange_fails_and_the_next_send_recovers_once_it_exists() -> None:
    exchange = unique("kosha-test-")

    async def scenario() -> list[bytes]:
        target = amqp_target.make("t", f"amqp://{RABBIT}/?exchange={exchange}&routing_key=k")
        try:
            with pytest.raises(DeliveryFailed):
                await target.send(deliveries(3))
            connection, queue = await _consumer(exchange, "k")
            await target.send(deliveries(3, start=4))
            messages = await asyncio.wait_for(_drain(queue, 3), 10)
            await connection.close()
            return [m.body for m in messages]
        finally:
            await target.close()
            await _delete_exchange(exchange)

    assert run(scenario()) == [d.body for d in deliveries(3, start=4)]


def test_create_declares_the_exchange_and_mandatory_fails_when_no_queue_is_bound() -> None:
    exchange = unique("kosha-test-")

    async def scenario() -> None:
        target = amqp_target.make("t", f"amqp://{RABBIT}/?exchange={exchange}&routing_key=k&create=1&mandatory=1")
        try:
            with pytest.raises(DeliveryFailed):
                await target.send(deliveries(2))
            connection, queue = await _consumer(exchange, "k")
            await target.send(deliveries(2))
            assert len(await asyncio.wait_for(_drain(queue, 2), 10)) == 2
            await connection.close()
        finally:
            await target.close()
            await _delete_exchange(exchange)

    run(scenario())


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="rabbitmqctl is not installed")
def test_a_connection_closed_by_the_broker_is_replaced_on_the_next_send() -> None:
    exchange, name = unique("kosha-test-"), unique("close-")

    def close_target_connection() -> None:
        listing = subprocess.run(["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
                                 capture_output=True, text=True, timeout=60, check=True)
        pids = [line.split("\t")[0] for line in listing.stdout.splitlines() if f"kosha-notify-{name}" in line]
        assert len(pids) == 1
        subprocess.run(["rabbitmqctl", "-q", "close_connection", pids[0], "test"], timeout=60, check=True,
                       capture_output=True)

    async def scenario() -> list[bytes]:
        connection, queue = await _consumer(exchange, "k")
        target = amqp_target.make(name, f"amqp://{RABBIT}/?exchange={exchange}&routing_key=k")
        try:
            await target.send(deliveries(3))
            await asyncio.to_thread(close_target_connection)
            await target.send(deliveries(3, start=4))
            return [m.body for m in await asyncio.wait_for(_drain(queue, 6), 10)]
        finally:
            await target.close()
            await connection.close()
            await _delete_exchange(exchange)

    assert run(scenario()) == [d.body for d in deliveries(6)]


def test_a_refused_login_is_not_shown_in_the_failure() -> None:
    target = amqp_target.make("t", "amqp://kosha:s3cr3t-pass@127.0.0.1:5672/?exchange=x")
    with pytest.raises(DeliveryFailed) as failure:
        run(target.send(deliveries(1)))
    assert "s3cr3t-pass" not in str(failure.value)


@pytest.mark.parametrize("url", [
    "amqp://guest:guest@127.0.0.1:5672/",
    "amqp://guest:guest@127.0.0.1:5672/?exchange=x&type=fan",
    "amqp://guest:guest@127.0.0.1:5672/?routing_key=q&create=1",
    "amqp://guest:guest@127.0.0.1:5672/?exchange=x&routingkey=k",
])
def test_a_target_url_that_cannot_work_is_refused_when_made(url: str) -> None:
    with pytest.raises(ValueError):
        amqp_target.make("t", url)
