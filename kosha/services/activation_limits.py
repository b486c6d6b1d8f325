"""Limits on failed session activations, shared by every server process of a deployment.

Failures are counted per (key, address) pair, per key and per address, in the database
(`kosha.store.activation_failures`), so N processes allow the same number of tries as one, not N
times as many. An address at `pair_limit` failures on a key is refused that key. The key and
address counts only refuse attempts from an address that has itself failed on that key: a key
under attack from many addresses stays usable from the holder's address, and an address spraying
keys (a shared NAT, a proxy) is slowed on those keys only, never on the keys of its neighbours
(docs/hardening.md, section L).

Counts live in fixed windows of `window` seconds from a subject's first failure, judged by wall
time (every process reads the same rows). A check costs one indexed read, and only activations
pay it; subjects are stored as hashes, so the table holds no address or key in the clear and no
attacker-chosen string longer than a hash.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING

from ..errors import TooManyRequests
from ..store import activation_failures as sql

if TYPE_CHECKING:
    from .container import Kosha

WINDOW = 60.0


def _subject(kind: str, *parts: str) -> str:
    return kind + ":" + hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]


class ActivationLimiter:
    def __init__(self, kosha: Kosha, pair_limit: int, key_limit: int, address_limit: int,
                 window: float = WINDOW) -> None:
        self.kosha = kosha
        self.window = window
        self.limits = {"pair": max(1, pair_limit), "key": max(1, key_limit),
                       "address": max(1, address_limit)}

    def _subjects(self, key: str, address: str) -> dict[str, str]:
        return {"pair": _subject("p", key, address), "key": _subject("k", key),
                "address": _subject("a", address)}

    async def check(self, key: str, address: str) -> bool:
        """Raise 429 if this address may not try this key now; answer whether it failed on it
        recently (then a success should `succeed`)."""
        now = time.time()
        subjects = self._subjects(key, address)
        counts = await self.kosha.db.read(sql.counts, list(subjects.values()), now - self.window)
        if subjects["pair"] not in counts:
            return False
        for kind, subject in subjects.items():
            count, started = counts.get(subject, (0, now))
            if count >= self.limits[kind]:
                wait = max(1, math.ceil(started + self.window - now))
                raise TooManyRequests("too many failed session activations; retry later",
                                      retry_after=wait)
        return True

    async def fail(self, key: str, address: str) -> None:
        await self.kosha.db.write(sql.add, list(self._subjects(key, address).values()),
                                  time.time(), self.window)

    async def succeed(self, key: str, address: str) -> None:
        """The address got the key right: its own count on that key starts again."""
        await self.kosha.db.write(sql.forget, self._subjects(key, address)["pair"])

    def prune(self) -> int:
        """Drop counters whose window has passed (a background job; call from a thread)."""
        return self.kosha.db.write_sync(sql.prune, time.time() - self.window)
