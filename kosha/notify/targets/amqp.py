"""AMQP 0-9-1 target (RabbitMQ): each event published to an exchange with publisher confirms.

    amqp://user:password@host:5672/vhost?exchange=NAME&routing_key=KEY[&create=1&type=topic]
    amqps://...                        (TLS)

The vhost is the URL's path (`%2F`, or nothing, for the default `/`). Without `exchange` the
default exchange is used and `routing_key` names the queue. Messages are persistent
(delivery mode 2), `application/json`, with `message_id` the outbox sequence and a digest of the message and `type` the
event name; the batch's publishes go out together on one channel (so in order) and the batch
counts as delivered when the broker has confirmed every one. `create=1` declares the exchange
(durable, of `type`, default `topic`) instead of expecting the operator to have made it;
`mandatory=1` makes a message that no queue is bound for a failure (kept and retried) rather
than dropped by the broker.
"""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.connected import CONNECT_TIMEOUT, SEND_TIMEOUT, ConnectedTarget
from kosha.notify.targets.delivery_id import message_id
from kosha.notify.targets.failure import all_confirmed
from kosha.notify.targets.options import TargetUrl, known_options, parse

EXCHANGE_TYPES = {"direct", "fanout", "topic", "headers"}


def make(id: str, url: str) -> AmqpTarget:
    parsed = parse(url, default_port=5672)
    if parsed.scheme not in ("amqp", "amqps"):
        raise ValueError(f"not an AMQP target URL scheme: {parsed.scheme}")
    known_options(parsed, {"exchange", "routing_key", "create", "type", "mandatory"})
    exchange = parsed.options.get("exchange", "")
    if not exchange and not parsed.options.get("routing_key"):
        raise ValueError("amqp target needs ?exchange=NAME, or ?routing_key=QUEUE for the default exchange")
    kind = parsed.options.get("type", "topic")
    if kind not in EXCHANGE_TYPES:
        raise ValueError(f"amqp target: type must be one of {', '.join(sorted(EXCHANGE_TYPES))}")
    if parsed.flag("create") and not exchange:
        raise ValueError("amqp target: create=1 needs ?exchange=NAME")
    return AmqpTarget(id, parsed)


class AmqpTarget(ConnectedTarget):
    kind = "amqp"

    def __init__(self, id: str, url: TargetUrl) -> None:
        super().__init__(id, url)
        self.exchange_name = url.options.get("exchange", "")
        self.routing_key = url.options.get("routing_key", "")
        self.create = url.flag("create")
        self.exchange_type = url.options.get("type", "topic")
        self.mandatory = url.flag("mandatory")
        self.vhost = url.path[1:] if url.path.startswith("/") else url.path
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def _open(self) -> AbstractExchange:
        if (self._exchange is not None and self._channel is not None and not self._channel.is_closed
                and self._connection is not None and not self._connection.is_closed):
            return self._exchange
        await self._drop()
        self._connection = await aio_pika.connect(
            host=self.url.host,
            port=self.url.port,
            login=self.url.username or "guest",
            password=self.url.password if self.url.password is not None else "guest",
            virtualhost=self.vhost or "/",
            ssl=self.url.scheme == "amqps",
            timeout=CONNECT_TIMEOUT,
            client_properties={"connection_name": f"kosha-notify-{self.id}"},
        )
        self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        if not self.exchange_name:
            self._exchange = self._channel.default_exchange
        elif self.create:
            self._exchange = await self._channel.declare_exchange(
                self.exchange_name, self.exchange_type, durable=True
            )
        else:
            self._exchange = await self._channel.get_exchange(self.exchange_name, ensure=False)
        return self._exchange

    async def _deliver(self, batch: list[Delivery]) -> None:
        exchange = await self._open()
        publishes = [
            asyncio.ensure_future(exchange.publish(
                aio_pika.Message(
                    delivery.body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message_id(delivery),
                    type=delivery.event_name,
                ),
                self.routing_key,
                mandatory=self.mandatory,
                timeout=SEND_TIMEOUT,
            ))
            for delivery in batch
        ]
        await all_confirmed(publishes)

    def _connected(self) -> bool:
        return self._connection is not None

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                pass
