"""A small in-memory cache with expiry, for the hot path's lookups (tokens, secrets, policies)."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A small in-memory map whose entries expire (monotonic time).

    Bounded: when full, expired entries are dropped and then the oldest half, so a flood of junk
    tokens cannot grow it without limit. Shared by the identity services.
    """

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._data.pop(key, None)
            return None
        return hit[1]

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        if len(self._data) >= self.max_entries:
            self._shrink()
        self._data[key] = (time.monotonic() + (self.ttl if ttl is None else ttl), value)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def _shrink(self) -> None:
        now = time.monotonic()
        self._data = {k: v for k, v in self._data.items() if v[0] >= now}
        if len(self._data) >= self.max_entries:
            keep = list(self._data.items())[len(self._data) // 2:]
            self._data = dict(keep)
