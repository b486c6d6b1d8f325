"""What the broker targets share: connect on first use, drop the connection after any failure.

A target holds one connection to its broker. It is opened by the first `send`, kept while
deliveries succeed, and closed as soon as one fails, so the worker's next attempt starts from a
fresh connection whatever state the old one was left in (killed by the server, half-written
batch, broker restarted). A connection that sat open since an earlier batch may have died
unnoticed (an idle timeout, a terminated backend, a restarted broker): when a batch fails on such
a reused connection it is tried once more, at once, on a new one, so a stale connection costs no
retry delay (the broker may then hold part of the batch twice, which at-least-once allows).
A batch that takes longer than `SEND_TIMEOUT` counts as failed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.failure import failed
from kosha.notify.targets.options import TargetUrl

SEND_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0


class ConnectedTarget(ABC):
    kind: str

    def __init__(self, id: str, url: TargetUrl) -> None:
        self.id = id
        self.url = url
        self._lock = asyncio.Lock()

    async def send(self, batch: list[Delivery]) -> None:
        if not batch:
            return
        async with self._lock:
            attempts, confirmed = (2 if self._connected() else 1), 0
            for attempt in range(1, attempts + 1):
                try:
                    await asyncio.wait_for(self._deliver(batch), SEND_TIMEOUT)
                    return
                except asyncio.CancelledError:
                    await self._drop()
                    raise
                except Exception as exc:
                    await self._drop()
                    failure = failed(self.kind, self.id, exc, self.url.secrets())
                    confirmed = max(confirmed, failure.delivered)
                    if attempt == attempts:
                        failure.delivered = confirmed
                        raise failure from None

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    @abstractmethod
    def _connected(self) -> bool:
        """Whether a connection from an earlier batch is open (it may have died unnoticed)."""

    @abstractmethod
    async def _deliver(self, batch: list[Delivery]) -> None:
        """Connect if not connected, then deliver the whole batch in order or raise."""

    @abstractmethod
    async def _drop(self) -> None:
        """Close the connection, if any, ignoring errors: the next delivery opens a new one."""
