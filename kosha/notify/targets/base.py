"""What every delivery target is: something that takes a batch of encoded events, in order.

The operator defines targets as `id=url` (flag `--notify-target`, repeatable, or
`KOSHA_NOTIFY_TARGETS` separated by spaces); the URL's scheme picks the kind:
`http(s)://` webhook, `nats://` (core NATS) and `nats+jetstream://`, `redis://`, `amqp://`,
`mqtt://`, `postgresql://`. Each kind reads its own options from the URL's path and query.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Delivery(NamedTuple):
    """One event ready to send: its outbox sequence, the object key (ordering and routing),
    and the AWS-format JSON message (`{"Records": [...]}`) as bytes. A named tuple: one is
    made per event, and a frozen dataclass's __init__ cost several times as much."""

    sequence: int
    bucket: str
    key: str
    event_name: str
    body: bytes


class Target(Protocol):
    id: str
    kind: str

    async def send(self, batch: list[Delivery]) -> None:
        """Deliver the batch in order, or raise: the worker retries from the first unsent one."""

    async def close(self) -> None: ...
