"""MQTT target: each event published on a topic, QoS 1 by default (acknowledged by the broker).

    mqtt://[user:password@]host:1883/topic/levels?qos=1
    mqtts://...:8883/...               (TLS, verified against the system's CA certificates)

The topic is the URL's path (percent-encoded where needed; no `+` or `#`). With QoS 1 or 2 the
batch counts as delivered when the broker has acknowledged every message (PUBACK / PUBCOMP);
QoS 0 only says the messages were written to the socket, so it can lose events and is accepted
only because some deployments want it. The batch is handed to the client in order, and MQTT keeps
the order of one client's messages on a topic.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl

import aiomqtt

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.connected import CONNECT_TIMEOUT, SEND_TIMEOUT, ConnectedTarget
from kosha.notify.targets.failure import all_confirmed
from kosha.notify.targets.options import TargetUrl, known_options, parse

# aiomqtt warns once a client has more than ten publishes awaiting their acknowledgement, which is
# exactly how a batch is sent; failures still reach the worker as exceptions.
_client_log = logging.getLogger("kosha.notify.targets.mqtt.client")
_client_log.setLevel(logging.ERROR)


def make(id: str, url: str) -> MqttTarget:
    parsed = parse(url, default_port=8883 if url.lower().startswith("mqtts:") else 1883)
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"not an MQTT target URL scheme: {parsed.scheme}")
    known_options(parsed, {"qos"})
    topic = parsed.path.lstrip("/")
    if not topic or "+" in topic or "#" in topic:
        raise ValueError("mqtt target URL needs a topic (no wildcards) as its path: mqtt://host:1883/topic")
    return MqttTarget(id, parsed, topic, parsed.integer("qos", default=1, low=0, high=2))


class MqttTarget(ConnectedTarget):
    kind = "mqtt"

    def __init__(self, id: str, url: TargetUrl, topic: str, qos: int) -> None:
        super().__init__(id, url)
        self.topic = topic
        self.qos = qos
        self._client: aiomqtt.Client | None = None

    async def _connection(self) -> aiomqtt.Client:
        if self._client is None:
            client = aiomqtt.Client(
                hostname=self.url.host,
                port=self.url.port,
                username=self.url.username,
                password=self.url.password,
                identifier=f"kosha-notify-{self.id}-{secrets.token_hex(4)}",
                timeout=CONNECT_TIMEOUT,
                logger=_client_log,
                tls_context=ssl.create_default_context() if self.url.scheme == "mqtts" else None,
            )
            await client.__aenter__()
            self._client = client
        return self._client

    async def _deliver(self, batch: list[Delivery]) -> None:
        client = await self._connection()
        publishes = [
            asyncio.ensure_future(client.publish(self.topic, d.body, qos=self.qos, timeout=SEND_TIMEOUT))
            for d in batch
        ]
        await all_confirmed(publishes)

    def _connected(self) -> bool:
        return self._client is not None

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:
                pass
