"""Leases: background work that must run in one process of a deployment at a time.

A lease is a row (`kosha.store.leases`) naming its holder and when it expires. The holder renews
it every `ttl / 3` seconds; if the holder dies (kill -9, a lost machine), the row expires after
at most `ttl` seconds (`--lease-seconds`, default 15) and the next process to try takes it over.
The same code works on SQLite (several processes on one data directory) and PostgreSQL (several
machines); it needs no connection kept open, unlike PostgreSQL advisory locks, which bind to one
pooled connection. Expiry is judged by wall-clock time, so machines sharing a database need
their clocks in step to well under `ttl` (NTP).

A pass that outlives its lease (its thread cannot be interrupted) finishes: every pass is
idempotent and each of its changes is its own transaction that re-reads what it acts on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..store import leases as sql

if TYPE_CHECKING:
    from .container import Kosha

log = logging.getLogger("kosha.leases")
BOOT_ID = uuid.uuid4().hex[:12]  # tells this process from an earlier one that had the same pid

Pass = Callable[[], Any]  # a plain function (run in a thread) or a coroutine function


def holder_id() -> str:
    """This process, as a lease row names it: host, pid and boot id."""
    return f"{socket.gethostname()}:{os.getpid()}:{BOOT_ID}"


class LeaseService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self.named: str | None = None  # a fixed holder name (tests); else this process's
        self.ttl = float(kosha.settings.lease_seconds)
        self.held: set[str] = set()

    @property
    def holder(self) -> str:
        """Worked out on each use: a process forked after this object was made has its own pid."""
        return self.named or holder_id()

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    async def acquire(self, name: str) -> bool:
        """Take or renew `name`; whether this process holds it now. A database fault is "no".

        A process that does not hold `name` first reads who does, and writes only if nobody
        does: the write would change nothing while another holder's lease runs, yet it would
        still be a commit (a writer's turn, an fsync, and on SQLite this process's read memo
        emptied: under `--workers 2` each worker re-read its hot rows after every such try).
        """
        try:
            if name not in self.held and await self._held_by_another(name):
                held = False
            else:
                held = await self.kosha.db.write(sql.acquire, name, self.holder, time.time(),
                                                 self.ttl)
        except Exception as exc:  # noqa: BLE001 - a database fault means not held, and retry
            log.warning("lease %s: could not renew (%s)", name, exc)
            held = False
        if held and name not in self.held:
            log.info("lease %s taken by %s", name, self.holder)
        elif not held and name in self.held:
            log.warning("lease %s lost by %s", name, self.holder)
        (self.held.add if held else self.held.discard)(name)
        metrics.LEASE_HELD.labels(name).set(1 if held else 0)
        return held

    async def release(self, name: str) -> None:
        """Give `name` up so that another process takes it at once (clean shutdown)."""
        if name in self.held:
            self.held.discard(name)
            metrics.LEASE_HELD.labels(name).set(0)
            await self.kosha.db.write(sql.release, name, self.holder)

    async def holder_of(self, name: str) -> str | None:
        return await self.kosha.db.read(sql.holder, name, time.time())

    async def _held_by_another(self, name: str) -> bool:
        current = await self.holder_of(name)
        return current is not None and current != self.holder

    async def run_while_held(self, name: str, pass_fn: Pass, every: float,
                             on_done: Callable[[Any, BaseException | None], None] | None = None) -> None:
        """Forever: hold lease `name` when it is free, and while held run `pass_fn` every `every`
        seconds (the first `every` seconds after start). The lease is tried or renewed every
        `ttl / 3` seconds whatever `every` is (a pass every 50 ms costs no write per pass);
        passes never overlap, and the lease is renewed while one runs. `on_done(result, error)`
        hears of each pass. Cancel to stop (the lease is then released)."""
        last_pass = time.monotonic()
        next_try = 0.0
        held = False
        running: asyncio.Task[Any] | None = None
        try:
            while True:
                now = time.monotonic()
                if now >= next_try:
                    held = await self.acquire(name)
                    next_try = now + self.renew_every
                if running is not None and running.done():
                    _report(running, on_done)
                    running = None
                if held and running is None and time.monotonic() - last_pass >= every:
                    last_pass = time.monotonic()
                    running = asyncio.create_task(call_pass(pass_fn))
                due = next_try if running is not None or not held else min(next_try, last_pass + every)
                await _sleep_or_finish(running, max(due - time.monotonic(), 0.01))
        finally:
            if running is not None:
                running.cancel()
            await asyncio.shield(self._release_quietly(name))

    async def _release_quietly(self, name: str) -> None:
        try:
            await self.release(name)
        except Exception as exc:  # noqa: BLE001 - it expires by itself after ttl
            log.warning("lease %s: could not release (%s)", name, exc)


async def call_pass(pass_fn: Pass) -> Any:
    if inspect.iscoroutinefunction(pass_fn):
        return await pass_fn()
    return await asyncio.to_thread(pass_fn)


async def _sleep_or_finish(running: asyncio.Task[Any] | None, seconds: float) -> None:
    """Sleep `seconds`, or less if the running pass ends first (so the next renewal reports it)."""
    if running is None:
        await asyncio.sleep(seconds)
    else:
        await asyncio.wait([running], timeout=seconds)


def _report(task: asyncio.Task[Any], on_done: Callable[[Any, BaseException | None], None] | None) -> None:
    error = None if task.cancelled() else task.exception()
    if on_done is not None:
        on_done(None if error is not None or task.cancelled() else task.result(), error)
    elif error is not None:
        log.error("background pass failed: %s", error)
