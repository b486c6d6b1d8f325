"""A small in-memory cache with expiry, for the hot path's lookups (tokens, secrets, policies),
and the process-wide switch that empties every such cache at once.

Every TTLCache registers itself; `clear_all` empties them all and moves the cache epoch. The
cache-generation watcher (kosha.services.generation) calls it when another process committed a
change that must invalidate (a key deleted, a policy detached, a bucket made private, ...).

A lookup that misses reads the database and then fills the cache; if `clear_all` ran in between,
what it read may be from before the change, so it must not be kept: the reader takes
`epoch()` before its read and passes it as `put(..., since=...)`, which then drops the value.
"""

from __future__ import annotations

import time
import weakref
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_caches: weakref.WeakSet[TTLCache[object, object]] = weakref.WeakSet()
_epoch = 0


def epoch() -> int:
    """The number of `clear_all` calls so far in this process (see `TTLCache.put`'s `since`)."""
    return _epoch


def clear_all() -> None:
    """Empty every cache of this process (call from the event loop's thread)."""
    global _epoch
    _epoch += 1
    for cache in list(_caches):
        cache.clear()


class TTLCache(Generic[K, V]):
    """A small in-memory map whose entries expire (monotonic time).

    Bounded: when full, expired entries are dropped and then the oldest half, so a flood of junk
    tokens cannot grow it without limit. Shared by the identity services.
    """

    def __init__(self, ttl: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        _caches.add(self)  # type: ignore[arg-type]

    def get(self, key: K) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._data.pop(key, None)
            return None
        return hit[1]

    def put(self, key: K, value: V, ttl: float | None = None, since: int | None = None) -> None:
        """Remember `value`; not if `since` (the `epoch()` read before it) is no longer current."""
        if since is not None and since != _epoch:
            return
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
