"""Cross-process cache invalidation: watch the cache generation and clear every cache when it moves.

Each process caches what every request needs (token -> principal, access key -> secret, compiled
policies, bucket settings, bucket policies; see kosha.cache). A change that must be seen by every
process (a key deleted, a session ended or refreshed, a policy changed or detached, a user
removed or demoted, a bucket's settings changed or the bucket deleted, a bucket policy changed)
bumps the counter row in its own transaction (`kosha.store.generation.invalidating`), clears its
own process's entries at once, and answers. Every process reads the counter every
`POLL_SECONDS` and, when it moved, empties all of its caches: a revocation is seen everywhere
within POLL_SECONDS plus one read (the bound docs/scaling.md states is 1 s; measured in
bench/revocation.py). Requests themselves never read the counter: no cost on the hot path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import cache, metrics
from ..errors import Unavailable
from ..store import generation as sql

if TYPE_CHECKING:
    from .container import Kosha

log = logging.getLogger("kosha.generation")
POLL_SECONDS = 0.1
BOUND_SECONDS = 1.0  # what the docs promise, with room for a slow read of the counter
MEMO_KEY = ("cache-generation",)


class GenerationWatcher:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self.seen: int | None = None
        self.clears = 0  # how often another process's change emptied the caches (tests, metrics)

    def baseline(self) -> None:
        """Read the counter before serving, so that a change made from now on is noticed. A
        database away at start does not stop the process (its /readyz says so; its caches are
        empty): the first poll that reads the counter sets it."""
        try:
            self.seen = self.kosha.db.read_sync(sql.current)
        except Unavailable as exc:
            log.warning("cache generation not read at start: %s", exc)

    async def poll(self) -> None:
        """One look at the counter; empties the caches if it moved since the last look.

        On SQLite the look is the read memo's (Database.read_memo): while no connection of any
        process has committed to the file since the last read, the counter cannot have moved,
        and the look costs a read of the WAL index instead of a trip through the reader
        threads (~0.9 ms of CPU each, ten times a second in every worker: an idle worker used
        13 ms of CPU a second before, 4 ms after; docs/benchmarks.md).
        """
        value = await self.kosha.db.read_memo(MEMO_KEY, sql.current)
        if value != self.seen:
            if self.seen is not None:
                cache.clear_all()
                self.clears += 1
                metrics.CACHE_CLEARS.inc()
            self.seen = value
