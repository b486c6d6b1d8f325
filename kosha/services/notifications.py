"""Bucket event notifications: each bucket's configuration, the operator's targets, and the
recording and delivery of events (kosha/notify; docs/notifications.md).

A bucket's configuration lives in its row (`buckets.notification`), so it reaches every write
with the bucket itself, through the bucket cache and its invalidation (at once in this process,
within a second in the others: kosha.services.generation): a write to a bucket without one
costs nothing more. Reading and changing it takes `kos:GetBucketNotification` /
`kos:PutBucketNotification` (account admins may do anything).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import request_context
from ..notify import rules
from ..notify.config import TargetSpec
from ..notify.events import Origin
from ..notify.metrics import BACKLOG, OUTBOX_ROWS
from ..notify.recorder import BucketInfo, Gate, Recorder
from ..store import buckets as bucket_sql
from ..store import outbox
from ..store.generation import invalidating
from .models import Bucket
from .principal import Principal

if TYPE_CHECKING:
    from ..notify.worker import DeliveryWorker
    from .container import Kosha

log = logging.getLogger("kosha.notify")
READ_ACTION = "kos:GetBucketNotification"
WRITE_ACTION = "kos:PutBucketNotification"
LEASE = "notify"     # the background job's name, and its lease's
LIFECYCLE_ORIGIN = Origin("kosha:lifecycle", "", "")
FOLLOW_SQLITE = 0.005   # seconds between looks at SQLite's change counter (microseconds each)
FOLLOW_POSTGRESQL = 0.01   # seconds between reads of the outbox's last sequence
IDLE_WAIT = 0.5   # seconds the follower sleeps at most while no target waits for it
INFO_ENTRIES = 10_000   # buckets whose BucketInfo is kept (all forgotten when full)


class NotificationService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        settings = kosha.settings
        self.region = settings.default_region.name
        self.specs: dict[str, TargetSpec] = {s.id: s for s in settings.notify_targets}
        self.live = frozenset(self.specs)
        self.arns = {spec.arn(self.region): spec for spec in self.specs.values()}
        self.gate = Gate(settings.notify_backlog_max)
        self.worker: DeliveryWorker | None = None
        self._infos: dict[str, BucketInfo] = {}

    # -- the operator's targets ----------------------------------------------------------------
    def targets(self, principal: Principal) -> list[dict[str, str]]:
        """Every configured target with its ARN (URL secrets masked); operator only."""
        self.kosha.authz.require_operator(principal)
        return [self.describe(spec) for spec in self.specs.values()]

    def describe(self, spec: TargetSpec) -> dict[str, str]:
        return {"id": spec.id, "kind": spec.kind, "arn": spec.arn(self.region), "url": spec.masked}

    # -- a bucket's configuration --------------------------------------------------------------
    async def get_config(self, principal: Principal, bucket_ref: str) -> list[dict[str, Any]]:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, READ_ACTION, fresh=True)
        return list(bucket.notification or [])

    async def put_config(self, principal: Principal, bucket_ref: str,
                         configs: Any) -> list[dict[str, Any]]:
        """Replace the bucket's configuration (an empty list removes it)."""
        checked = rules.validate(configs, self.arns)
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, WRITE_ACTION)
        row = await self.kosha.db.write(invalidating(bucket_sql.update_bucket), bucket.name,
                                        {"notification": checked or None})
        self.kosha.buckets.forget(bucket.name)
        return list((row.notification if row is not None else None) or [])

    # -- recording (in the write's transaction) ------------------------------------------------
    def recorder(self, principal: Principal, buckets: list[Bucket],
                 created_event: str = "ObjectCreated:Put") -> Recorder | None:
        """What records this write's events, or None when no bucket it touches wants any."""
        if not self.live or not any(b.notification for b in buckets):
            return None
        ctx = request_context.current()
        origin = Origin(principal.kcid or ("anonymous" if principal.anonymous else ""),
                        ctx.source_ip, ctx.request_id)
        return Recorder(self.gate, {b.name: self.info(b) for b in buckets if b.notification},
                        self.live, origin, self.kosha.clock.now(), created_event)

    def lifecycle_recorder(self, bucket: str, now: float) -> Recorder | None:
        """For the expiry worker (from its thread): LifecycleExpiration events of `bucket`."""
        if not self.live:
            return None
        row = self.kosha.db.read_sync(bucket_sql.get, bucket)
        if row is None or not row.notification:
            return None
        found = Bucket.from_row(row)
        return Recorder(self.gate, {bucket: self.info(found)}, self.live, LIFECYCLE_ORIGIN, now,
                        removed_prefix="LifecycleExpiration")

    def info(self, bucket: Bucket) -> BucketInfo:
        """The bucket's notification settings for a recorder: the same object for as long as
        the bucket's configuration, owner and region are (so the routes each event name takes
        are worked out once, not per write)."""
        found = self._infos.get(bucket.name)
        configs = bucket.notification or []
        if (found is not None and (found.configs is configs or found.configs == configs)
                and found.owner == bucket.account_id and found.region == bucket.region):
            return found
        if len(self._infos) >= INFO_ENTRIES:
            self._infos.clear()
        made = self._infos[bucket.name] = BucketInfo(bucket.name, bucket.account_id,
                                                     bucket.region, configs)
        return made

    # -- background (kosha.services.background and kosha.notify.process run these) -------------
    def log_targets(self) -> None:
        for spec in self.specs.values():
            log.info("notification target %s (%s): ARN %s -> %s", spec.id, spec.kind,
                     spec.arn(self.region), spec.masked)

    async def measure(self) -> None:
        """Every process, every second: the outbox's size for the backlog limit, and the
        backlog gauges."""
        before = self.gate.snapshot()
        lo, hi = await self.kosha.db.read(outbox.span)
        rows = hi - lo + 1 if hi else 0
        self.gate.measure(rows, before)
        OUTBOX_ROWS.set(rows)
        positions = await self.kosha.db.read(outbox.cursors)
        for target_id in self.specs:
            BACKLOG.labels(target_id).set(max(0, hi - max(positions.get(target_id, 0), lo - 1))
                                          if hi else 0)

    def prepare(self) -> None:
        """Build the targets (no connection yet): a bad URL or a missing client library stops
        the server at start-up, before it listens."""
        from ..notify.targets import make
        from ..notify.worker import DeliveryWorker
        targets = {tid: make(tid, spec.url) for tid, spec in self.specs.items()}
        self.worker = DeliveryWorker(self.kosha.db, targets) if targets else None

    async def deliver_pass(self) -> None:
        """Deliver for as long as this process holds the `notify` lease (the lease service
        renews it while this runs, and starts the next pass within a second of taking it)."""
        worker = self.worker
        if worker is None:
            return
        held = self.kosha.leases.held
        await worker.run(lambda: LEASE not in held)

    async def follow_outbox(self) -> None:
        """The delivery process, until cancelled: wake the worker when events are committed (by
        the serving processes, or other machines). A thread of its own polls, so that a look
        that finds nothing new costs no trip through the event loop."""
        worker = self.worker
        if worker is None:
            return
        loop, stop = asyncio.get_running_loop(), threading.Event()
        try:
            await asyncio.to_thread(self._follow, lambda n: loop.call_soon_threadsafe(worker.wake, n),
                                    stop, worker.waiting)
        finally:
            stop.set()

    def _follow(self, wake: Callable[[int], object], stop: threading.Event,
                waiting: threading.Event) -> None:
        """On SQLite only a moved change counter costs a read of the outbox's last sequence
        (on the counter's own connection: microseconds, where a pooled read cost ~100 us, 200
        times a second under load); on PostgreSQL that read is made every FOLLOW_POSTGRESQL
        seconds. It looks only while a target waits for a wake (`waiting`): while events
        stream in, the targets read on their own after each linger, and the looks (~13 us of
        this thread's CPU per event under the bench's load, 200 a second) would only wake
        the event loop for nothing."""
        db = self.kosha.db
        every = FOLLOW_SQLITE if db.is_sqlite else FOLLOW_POSTGRESQL
        version, last = db.data_version(), db.read_sync(outbox.last)
        while not stop.wait(every):
            if not waiting.is_set():
                waiting.wait(IDLE_WAIT)     # no target to wake: sleep until one waits
                continue
            if db.is_sqlite:
                moved = db.data_version()
                if moved == version:
                    continue
                version = moved
            try:
                top = (int(db.probe_scalar(outbox.LAST_SQL) or 0) if db.is_sqlite
                       else db.read_sync(outbox.last))
            except Exception as exc:   # noqa: BLE001 - the worker's own polling still runs
                log.debug("notification outbox not followed: %s", exc)
                continue
            if top > last:
                wake(top - last)
            last = top

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.close()

