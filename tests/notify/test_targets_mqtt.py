"""The MQTT target against the machine's Mosquitto (1883) and a mosquitto of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from kosha.notify.targets import mqtt as mqtt_target
from kosha.notify.targets.failure import DeliveryFailed
from tests.notify.brokers import OwnBroker, deliveries, mosquitto, run, unique


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.kill()


async def _send_and_receive(port: int, topic: str, target: mqtt_target.MqttTarget, start: int,
                            count: int) -> list[aiomqtt.Message]:
    async with aiomqtt.Client("127.0.0.1", port) as subscriber:
        await subscriber.subscribe(topic, qos=1)
        await target.send(deliveries(count, start=start))
        received = []
        async with asyncio.timeout(10):
            async for message in subscriber.messages:
                received.append(message)
                if len(received) == count:
                    break
        return received


def test_a_batch_arrives_in_order_at_qos_1_with_bodies_intact() -> None:
    topic = unique("kosha/test/")

    async def scenario() -> list[aiomqtt.Message]:
        target = mqtt_target.make("t", f"mqtt://127.0.0.1:1883/{topic}")
        try:
            return await _send_and_receive(1883, topic, target, 1, 150)
        finally:
            await target.close()

    messages = run(scenario())
    assert [bytes(m.payload) for m in messages] == [d.body for d in deliveries(150)]  # type: ignore[arg-type]
    assert {m.qos for m in messages} == {1}


def test_send_fails_while_the_broker_is_down_and_succeeds_after_it_returns(own_mosquitto: OwnBroker) -> None:
    target = mqtt_target.make("t", f"mqtt://127.0.0.1:{own_mosquitto.port}/events")

    async def scenario() -> list[aiomqtt.Message]:
        try:
            await target.send(deliveries(3))
            own_mosquitto.kill()
            with pytest.raises(DeliveryFailed):
                await target.send(deliveries(3, start=4))
            own_mosquitto.start()
            return await _send_and_receive(own_mosquitto.port, "events", target, 4, 3)
        finally:
            await target.close()

    assert [bytes(m.payload) for m in run(scenario())] == [d.body for d in deliveries(3, start=4)]  # type: ignore[arg-type]


def test_a_dead_address_fails_without_showing_the_password() -> None:
    target = mqtt_target.make("t", "mqtt://kosha:s3cr3t-pass@127.0.0.1:1/events")
    with pytest.raises(DeliveryFailed) as failure:
        run(target.send(deliveries(1)))
    assert "s3cr3t-pass" not in str(failure.value)


@pytest.mark.parametrize("url", [
    "mqtt://127.0.0.1:1883/",
    "mqtt://127.0.0.1:1883/a/+/b",
    "mqtt://127.0.0.1:1883/a/#",
    "mqtt://127.0.0.1:1883/a?qos=3",
    "mqtt://127.0.0.1:1883/a?retain=1",
])
def test_a_target_url_that_cannot_work_is_refused_when_made(url: str) -> None:
    with pytest.raises(ValueError):
        mqtt_target.make("t", url)
