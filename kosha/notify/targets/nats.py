"""NATS targets: `nats://` publishes on a subject (core NATS), `nats+jetstream://` into a stream.

    nats://[user:password@ | token@]host:4222/subject
    nats+jetstream://host:4222/subject?stream=NAME[&create=1]

Core NATS has no acknowledgement from subscribers: a batch counts as delivered when the server
has answered a flush (PING/PONG) after it, i.e. the server has read every message. JetStream
stores each message and acknowledges it; every publish of a batch is sent at once and the batch
counts as delivered when every acknowledgement has arrived (when the stream refuses one, the
ones acknowledged before it are reported as delivered). Each JetStream message carries a
`Nats-Msg-Id` derived from the outbox row, so a batch resent after a lost acknowledgement is
stored once (within the stream's duplicate window). `create=1` adds the stream (covering the
subject) when it does not exist; without it a missing stream is a delivery failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import nats
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js.errors import NotFoundError

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.connected import CONNECT_TIMEOUT, SEND_TIMEOUT, ConnectedTarget
from kosha.notify.targets.delivery_id import message_id
from kosha.notify.targets.failure import PartlyDelivered, confirmed_prefix
from kosha.notify.targets.options import TargetUrl, known_options, parse


def make(id: str, url: str) -> NatsTarget:
    parsed = parse(url, default_port=4222)
    subject = parsed.path.lstrip("/")
    if not subject or any(c in subject for c in " \t\r\n"):
        raise ValueError("nats target URL needs a subject as its path: nats://host:4222/subject")
    if parsed.scheme == "nats+jetstream":
        known_options(parsed, {"stream", "create"})
        if parsed.flag("create") and not parsed.options.get("stream"):
            raise ValueError("nats+jetstream target: create=1 needs ?stream=NAME")
        return NatsTarget(id, parsed, subject, jetstream=True)
    if parsed.scheme != "nats":
        raise ValueError(f"not a NATS target URL scheme: {parsed.scheme}")
    known_options(parsed, set())
    return NatsTarget(id, parsed, subject, jetstream=False)


class NatsTarget(ConnectedTarget):
    def __init__(self, id: str, url: TargetUrl, subject: str, jetstream: bool) -> None:
        super().__init__(id, url)
        self.kind = "nats+jetstream" if jetstream else "nats"
        self.subject = subject
        self.jetstream = jetstream
        self.stream = url.options.get("stream") or None
        self.create = url.flag("create")
        self._nc: Client | None = None
        self._stream_ready = False

    async def _watched(self, nc: Client, awaitable: Awaitable[object]) -> None:
        """nats-py leaves a flush or an acknowledgement waiting for its whole timeout when the
        connection closes under it (without calling back), so the wait watches the connection."""
        waiting = asyncio.ensure_future(awaitable)
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=0.05)
            if not waiting.done() and not nc.is_connected:
                waiting.cancel()
                raise ConnectionError("connection to the NATS server lost before it confirmed the batch")
        waiting.result()

    async def _connection(self) -> Client:
        if self._nc is None or not self._nc.is_connected:
            await self._drop()
            credentials: dict[str, str] = {}
            if self.url.username and self.url.password is not None:
                credentials = {"user": self.url.username, "password": self.url.password}
            elif self.url.username:
                credentials = {"token": self.url.username}
            errors: list[Exception] = []

            async def remember(exc: Exception) -> None:
                errors.append(exc)

            try:
                self._nc = await nats.connect(
                    servers=[f"nats://{self.url.host}:{self.url.port}"],
                    name=f"kosha-notify-{self.id}",
                    connect_timeout=CONNECT_TIMEOUT,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    error_cb=remember,
                    **credentials,
                )
            except NoServersError:
                cause = f": {type(errors[-1]).__name__}: {errors[-1]}" if errors else ""
                raise ConnectionError(f"cannot connect to {self.url.host}:{self.url.port}{cause}") from None
            self._stream_ready = False
        return self._nc

    async def _deliver(self, batch: list[Delivery]) -> None:
        nc = await self._connection()
        if not self.jetstream:
            for delivery in batch:
                await nc.publish(self.subject, delivery.body)
            await self._watched(nc, nc.flush(timeout=SEND_TIMEOUT))
            return
        js = nc.jetstream(timeout=SEND_TIMEOUT)
        if self.create and not self._stream_ready:
            try:
                await js.stream_info(self.stream)
            except NotFoundError:
                await js.add_stream(name=self.stream, subjects=[self.subject])
            self._stream_ready = True
        # One request per message, all started at once and in order on the one connection
        # (nats-py's publish_async loses the server's refusals, which would wait out the timeout).
        publishes = [
            asyncio.ensure_future(js.publish(self.subject, delivery.body, timeout=SEND_TIMEOUT,
                                             stream=self.stream,
                                             headers={"Nats-Msg-Id": message_id(delivery)}))
            for delivery in batch
        ]
        try:
            await self._watched(nc, asyncio.wait(publishes, return_when=asyncio.FIRST_EXCEPTION))
            failure = next((p.exception() for p in publishes if p.done() and p.exception()), None)
            if failure is not None:
                raise failure
        except Exception as exc:
            raise PartlyDelivered(confirmed_prefix(publishes), exc) from exc
        finally:
            for publish in publishes:
                publish.cancel()

    def _connected(self) -> bool:
        return self._nc is not None

    async def _drop(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            try:
                await nc.close()
            except Exception:
                pass
