"""The NATS targets against real servers: the machine's NATS (JetStream on) and one of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import DiscardPolicy, StreamConfig

from kosha.notify.targets import nats as nats_target
from kosha.notify.targets.failure import DeliveryFailed
from tests.notify.brokers import OwnBroker, deliveries, nats_server, run, unique

NATS = "127.0.0.1:4222"


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = nats_server(tmp_path)
    broker.start()
    yield broker
    broker.kill()


async def _publish_and_collect(address: str, subject: str, target_url: str, count: int) -> list[bytes]:
    nc = await nats.connect(f"nats://{address}")
    received: list[bytes] = []
    subscription = await nc.subscribe(subject)
    await nc.flush()
    target = nats_target.make("t", target_url)
    try:
        await target.send(deliveries(count))
        for _ in range(count):
            received.append((await subscription.next_msg(timeout=5)).data)
    finally:
        await target.close()
        await nc.close()
    return received


def test_core_nats_delivers_a_batch_in_order_with_bodies_intact() -> None:
    subject = unique("kosha.test.")
    received = run(_publish_and_collect(NATS, subject, f"nats://{NATS}/{subject}", 200))
    assert received == [d.body for d in deliveries(200)]


def test_jetstream_stores_a_batch_in_order_and_a_resent_batch_once() -> None:
    subject, stream = unique("kosha.js."), unique("KOSHA_")

    async def scenario() -> list[bytes]:
        target = nats_target.make("t", f"nats+jetstream://{NATS}/{subject}?stream={stream}&create=1")
        nc = await nats.connect(f"nats://{NATS}")
        js = nc.jetstream()
        try:
            await target.send(deliveries(50))
            await target.send(deliveries(50))
            info = await js.stream_info(stream)
            assert info.state.messages == 50
            return [(await js.get_msg(stream, seq)).data for seq in range(1, 51)]
        finally:
            await target.close()
            await js.delete_stream(stream)
            await nc.close()

    assert run(scenario()) == [d.body for d in deliveries(50)]


def test_jetstream_without_the_stream_fails_unless_asked_to_create_it() -> None:
    subject, stream = unique("kosha.js."), unique("KOSHA_")

    async def scenario() -> None:
        target = nats_target.make("t", f"nats+jetstream://{NATS}/{subject}?stream={stream}")
        with pytest.raises(DeliveryFailed):
            await target.send(deliveries(3))
        nc = await nats.connect(f"nats://{NATS}")
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
        try:
            await target.send(deliveries(3))
            assert (await js.stream_info(stream)).state.messages == 3
        finally:
            await target.close()
            await js.delete_stream(stream)
            await nc.close()

    run(scenario())


def test_core_nats_send_fails_while_the_server_is_down_and_reconnects_after_it_returns(
        own_nats: OwnBroker) -> None:
    address = f"127.0.0.1:{own_nats.port}"
    subject = unique("kosha.test.")
    target = nats_target.make("t", f"nats://{address}/{subject}")

    async def send_while_down() -> None:
        await target.send(deliveries(5))
        own_nats.kill()
        with pytest.raises(DeliveryFailed):
            await target.send(deliveries(5))

    async def send_after_return() -> list[bytes]:
        nc = await nats.connect(f"nats://{address}")
        subscription = await nc.subscribe(subject)
        await nc.flush()
        try:
            await target.send(deliveries(5, start=6))
            return [(await subscription.next_msg(timeout=5)).data for _ in range(5)]
        finally:
            await target.close()
            await nc.close()

    async def scenario() -> list[bytes]:
        await send_while_down()
        own_nats.start()
        return await send_after_return()

    assert run(scenario()) == [d.body for d in deliveries(5, start=6)]


def test_a_dead_address_fails_without_showing_the_password() -> None:
    target = nats_target.make("t", "nats://kosha:s3cr3t-pass@127.0.0.1:1/subject")
    with pytest.raises(DeliveryFailed) as failure:
        run(target.send(deliveries(1)))
    assert "s3cr3t-pass" not in str(failure.value)


@pytest.mark.parametrize("url", [
    "nats://127.0.0.1:4222/",
    "nats://127.0.0.1:4222/subject?stream=S",
    "nats+jetstream://127.0.0.1:4222/subject?create=1",
])
def test_a_target_url_that_cannot_work_is_refused_when_made(url: str) -> None:
    with pytest.raises(ValueError):
        nats_target.make("t", url)


def test_a_jetstream_batch_refused_midway_reports_how_many_were_stored() -> None:
    subject, stream = unique("kosha.js."), unique("KOSHA_")

    async def scenario() -> int:
        nc = await nats.connect(f"nats://{NATS}")
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[subject], max_msgs=3, discard=DiscardPolicy.NEW))
        target = nats_target.make("t", f"nats+jetstream://{NATS}/{subject}?stream={stream}")
        try:
            with pytest.raises(DeliveryFailed) as failure:
                await target.send(deliveries(5))
            return failure.value.delivered
        finally:
            await target.close()
            await js.delete_stream(stream)
            await nc.close()

    assert run(scenario()) == 3
