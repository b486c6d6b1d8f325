"""The delivery worker: reads the outbox in sequence order for each target, sends batches,
and moves the target's cursor in the database only after the target took them.

- At least once: a crash between a send and the cursor's move sends that batch again; the
  `sequencer` (the outbox sequence) lets consumers drop what they saw.
- In order: one batch at a time per target, in sequence order, so the events of one key arrive
  in the order their changes committed.
- A target that fails is retried with exponential backoff (capped at BACKOFF_MAX seconds); the
  others go on. Its events wait in the outbox, in the database, across restarts.
- Prompt, and cheap under load: the outbox's follower (kosha.services.notifications) wakes the
  worker (`wake`) when events were committed, looking only while some target waits for a wake
  (`waiting`). A target whose last read found one event or none waits for the next wake and
  reads at once (a lone event is sent at once); one whose last read found more (a stream) lets
  the events gather for LINGER_SECONDS (less when a batch's worth was counted) and reads again
  without waiting for a wake, so a steady stream of writes costs one outbox read (and one
  pipeline of POSTs, or with `batch=N` one POST) per linger instead of one per few commits, and
  no follower looks. A heavy stream (BUSY_RATE events a second or more since the read before)
  lingers up to BUSY_LINGER_SECONDS instead: a read and a pipeline per `batch` events rather
  than per few, half the delivery process's CPU per event while the requests keep the cores
  busy (bench/notifications.py); a lighter one keeps the short linger and its latency.
  A target also reads every POLL_SECONDS when nothing woke it.
- Rows every target has passed are deleted (`purge`), a chunk at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from ..store import outbox
from . import events
from .metrics import DELIVERED, FAILURES, LAST_ERROR
from .targets.base import Delivery, Target

log = logging.getLogger("kosha.notify")
BATCH = 100
POLL_SECONDS = 0.15
PURGE_SECONDS = 1.0
SEND_TIMEOUT = 60.0
CHECK_SECONDS = 0.5
LINGER_SECONDS = 0.01
BUSY_RATE = 2000.0    # events a second: a heavy stream
BUSY_LINGER_SECONDS = 0.05
CURSOR_SAVE_SECONDS = 0.5
STOP_SECONDS = 10.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 30.0
FAILURE_LOG_SECONDS = 30.0


def backoff(failures: int) -> float:
    """Seconds to wait after the n-th failure in a row: doubling, capped, with some jitter."""
    base = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))
    return base * random.uniform(0.8, 1.0)


class DeliveryWorker:
    def __init__(self, db: Any, targets: dict[str, Target], batch: int = BATCH) -> None:
        self.db = db
        self.targets = targets
        self.batch = batch
        self.signals = {target_id: _Signal(batch) for target_id in targets}
        self._stopping = asyncio.Event()
        self.waiting = threading.Event()   # some target's loop waits for a wake
        self._waiters = 0

    def wake(self, events: int = 1) -> None:
        """`events` were committed (call on the event loop)."""
        for signal in self.signals.values():
            signal.add(events)

    async def run(self, until: Callable[[], bool]) -> None:
        """Deliver until `until()` says to stop (checked every CHECK_SECONDS): each target
        finishes the batch it is sending, then the cursors are where the database says."""
        self._stopping = asyncio.Event()
        cursors = await self.db.write(outbox.ensure_cursors, list(self.targets))
        tasks = [asyncio.create_task(self._deliver(tid, cursors[tid]), name=f"notify-{tid}")
                 for tid in self.targets]
        tasks.append(asyncio.create_task(self._purge_forever(), name="notify-purge"))
        try:
            while not until():
                done, _ = await asyncio.wait(tasks, timeout=CHECK_SECONDS,
                                             return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()   # a bug in a loop: raise it to the background reporter
            self._stopping.set()
            for signal in self.signals.values():
                signal.stop()
            await asyncio.wait(tasks, timeout=STOP_SECONDS)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less if the session ends."""
        await _within(self._stopping.wait(), seconds)

    async def _deliver(self, target_id: str, cursor: int) -> None:
        """One target's loop. `sent` is how far it delivered; `cursor` how far the database
        knows: saved at most every CURSOR_SAVE_SECONDS while busy and when the target has been
        idle for POLL_SECONDS, so a busy target does not add a write per batch (a crash
        re-sends at most that much)."""
        target, signal = self.targets[target_id], self.signals[target_id]
        failures, logged, saved_at = 0, 0.0, time.monotonic()
        sent, read_at = cursor, time.monotonic()
        try:
            while not self._stopping.is_set():
                signal.clear()
                since, read_at = read_at, time.monotonic()
                try:
                    rows = await self._rows(sent)
                except Exception as exc:   # the database is away: wait, then read again
                    log.warning("notification outbox read failed: %s", exc)
                    await self._pause(1.0)
                    continue
                if rows:
                    sent, failures, logged = await self._send(target_id, target, rows, sent,
                                                              failures, logged)
                    if failures:
                        continue           # _send waited out the backoff: the same rows again
                if sent > cursor and time.monotonic() - saved_at >= CURSOR_SAVE_SECONDS:
                    cursor, saved_at = await self._advance(target_id, cursor, sent), time.monotonic()
                if len(rows) == self.batch:
                    continue               # a backlog: read on at once
                if len(rows) > 1:          # a stream, not a lone event: let it gather, read again
                    busy = len(rows) >= BUSY_RATE * (read_at - since)
                    await signal.linger(BUSY_LINGER_SECONDS if busy else LINGER_SECONDS)
                    continue
                if not await self._wait(signal):
                    cursor, saved_at = await self._advance(target_id, cursor, sent), time.monotonic()
        finally:
            if sent > cursor:
                await asyncio.shield(self._advance(target_id, cursor, sent))

    async def _wait(self, signal: _Signal) -> bool:
        """Wait for a wake (or POLL_SECONDS), with `waiting` set meanwhile: the follower looks
        at the outbox only while some target waits for it."""
        self._waiters += 1
        self.waiting.set()
        try:
            return await signal.wait(POLL_SECONDS)
        finally:
            self._waiters -= 1
            if not self._waiters:
                self.waiting.clear()

    async def _send(self, target_id: str, target: Target, rows: list[Any], sent: int,
                    failures: int, logged: float) -> tuple[int, int, float]:
        """Send the target's events among `rows`; answers (how far it delivered, failures in a
        row, when a failure was last logged)."""
        batch = _deliveries(rows, target_id)
        if batch:
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await target.send(batch)
            except Exception as exc:
                failures += 1
                FAILURES.labels(target_id).inc()
                LAST_ERROR.labels(target_id).set(time.time())
                done = _delivered_count(exc, len(batch))
                if done:
                    DELIVERED.labels(target_id).inc(done)
                    sent = max(sent, _passed_before(batch, done))
                now = time.monotonic()
                if failures == 1 or now - logged >= FAILURE_LOG_SECONDS:
                    logged = now
                    log.warning("delivery to notification target %s failed (%d in a row; "
                                "retrying): %s", target_id, failures, _describe(exc))
                await self._pause(backoff(failures))
                return sent, failures, logged
            DELIVERED.labels(target_id).inc(len(batch))
        if failures:
            log.info("notification target %s delivers again after %d failures", target_id,
                     failures)
        return rows[-1].seq, 0, logged

    async def _rows(self, cursor: int) -> list[Any]:
        return await self.db.read(outbox.next_rows, cursor, self.batch)  # type: ignore[no-any-return]

    async def _advance(self, target_id: str, cursor: int, position: int) -> int:
        if position <= cursor:
            return cursor
        while True:
            try:
                await self.db.write(outbox.advance, target_id, position)
                return position
            except Exception as exc:   # not moving it only means sending these again
                log.warning("notification cursor of %s not saved: %s", target_id, exc)
                if self._stopping.is_set():
                    return cursor
                await self._pause(1.0)

    async def _purge_forever(self) -> None:
        while not self._stopping.is_set():
            await self._pause(PURGE_SECONDS)
            try:
                await self.purge()
            except Exception as exc:
                log.warning("notification outbox purge failed: %s", exc)

    async def purge(self) -> int:
        """Delete the rows every configured target has passed; answer how many."""
        positions = await self.db.read(outbox.cursors)
        mine = [positions.get(tid, 0) for tid in self.targets]
        if not mine:
            return 0
        upto, removed = min(mine), 0
        while True:
            n = await self.db.write(outbox.purge, upto)
            removed += n
            if n < outbox.PURGE_CHUNK:
                return removed

    async def close(self) -> None:
        for target in self.targets.values():
            try:
                await target.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.warning("closing notification target %s: %s", target.id, exc)


def _deliveries(rows: list[Any], target_id: str) -> list[Delivery]:
    out = []
    append, message = out.append, events.message
    for row in rows:
        for config_id in _configurations(row.routes, target_id):
            append(Delivery(row.seq, row.bucket, row.key, row.event_name,
                            message(row, config_id)))
    return out


_ROUTES: dict[tuple[str, str], tuple[str, ...]] = {}


def _configurations(text: str, target_id: str) -> tuple[str, ...]:
    """The ids of the configurations of a row's routes (JSON) that go to `target_id`,
    remembered: the same few texts recur on every row."""
    found = _ROUTES.get((text, target_id))
    if found is None:
        found = tuple(config_id for config_id, tid in json.loads(text) if tid == target_id)
        if len(_ROUTES) < 1000:
            _ROUTES[(text, target_id)] = found
    return found


class _Signal:
    """What wakes one target's loop: events committed in this process, and how many since the
    loop last read, so a lingering loop can read as soon as a batch's worth is waiting."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.pending = 0
        self._any = asyncio.Event()
        self._full = asyncio.Event()

    def add(self, events: int) -> None:
        self.pending += events
        self._any.set()
        if self.pending >= self.batch:
            self._full.set()

    def stop(self) -> None:
        self._any.set()
        self._full.set()

    def clear(self) -> None:
        """Before a read: what is committed from now on wakes the loop again."""
        self.pending = 0
        self._any.clear()
        self._full.clear()

    async def wait(self, seconds: float) -> bool:
        """Until an event is committed (True) or `seconds` pass (False)."""
        return await _within(self._any.wait(), seconds)

    async def linger(self, seconds: float) -> None:
        """Let a burst gather: `seconds`, or until a batch's worth is waiting."""
        await _within(self._full.wait(), seconds)


async def _within(waiting: Any, seconds: float) -> bool:
    """Await `waiting` for at most `seconds`: did it finish? (asyncio.timeout: no task per
    wait, as asyncio.wait_for makes.)"""
    try:
        async with asyncio.timeout(seconds):
            await waiting
        return True
    except TimeoutError:
        return False


def _delivered_count(exc: BaseException, size: int) -> int:
    """How many of the batch the target says it delivered before failing (0 when unsaid)."""
    done = getattr(exc, "delivered", 0)
    return done if isinstance(done, int) and 0 <= done <= size else 0


def _passed_before(batch: list[Delivery], done: int) -> int:
    """The cursor after the first `done` deliveries: every row wholly delivered."""
    first_unsent = batch[done].sequence if done < len(batch) else batch[-1].sequence + 1
    return first_unsent - 1


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__
