"""Every broker scheme the operator may write resolves, through the registry, to its target."""

from __future__ import annotations

import pytest

from kosha.notify import targets

URLS = {
    "nats://127.0.0.1:4222/events": "nats",
    "nats+jetstream://127.0.0.1:4222/events?stream=EVENTS": "nats+jetstream",
    "redis://127.0.0.1:6379/0?stream=events": "redis",
    "rediss://:pw@127.0.0.1:6380/1?list=events": "redis",
    "amqp://guest:guest@127.0.0.1:5672/?exchange=events": "amqp",
    "amqps://guest:guest@127.0.0.1:5671/prod?exchange=events": "amqp",
    "mqtt://127.0.0.1:1883/kosha/events": "mqtt",
    "mqtts://127.0.0.1/kosha/events": "mqtt",
    "postgresql://postgres@127.0.0.1:5432/db?table=events": "postgresql",
    "postgres://postgres@127.0.0.1:5432/db?channel=events": "postgresql",
}


@pytest.mark.parametrize("url,kind", URLS.items())
def test_each_broker_scheme_makes_a_target_of_its_kind_without_connecting(url: str, kind: str) -> None:
    target = targets.make("t1", url)
    assert (target.id, target.kind) == ("t1", kind)
