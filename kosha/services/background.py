"""The one place that starts the server's background work.

Each job is a pass function run every so many seconds. Jobs that must run in one process of a
deployment at a time (lifecycle expiry with its multipart cleanup, blob garbage collection) run
under a lease of their name (kosha.services.leases); jobs that every process needs for itself
(the cache-generation watcher) run with `lease=False`. A new kind of background work registers
itself in `register_standard_jobs`. Event delivery runs in a process of its own
(kosha.notify.process), under its lease too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import metrics
from .generation import POLL_SECONDS
from .leases import Pass, call_pass

if TYPE_CHECKING:
    from .container import Kosha

log = logging.getLogger("kosha.background")
PRUNE_SECONDS = 300.0
TEMP_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    name: str
    pass_fn: Pass
    every: float
    lease: bool = True
    report: bool = True  # log each pass and count it in the background metrics


class Background:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self.jobs: list[Job] = []
        self._tasks: list[asyncio.Task[None]] = []

    def register(self, name: str, pass_fn: Pass, every: float, *, lease: bool = True,
                 report: bool = True) -> None:
        """Add a job; `pass_fn` is a plain function (run in a thread) or a coroutine function."""
        if any(job.name == name for job in self.jobs):
            raise ValueError(f"background job {name!r} is registered twice")
        self.jobs.append(Job(name, pass_fn, every, lease, report))

    def start(self) -> None:
        """Start every registered job (call once, from the running event loop)."""
        self._tasks = [asyncio.create_task(self._run(job), name=f"kosha-{job.name}")
                       for job in self.jobs]

    async def stop(self) -> None:
        """Cancel the jobs and give their leases up, so another process takes over at once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _run(self, job: Job) -> None:
        done = self._reporter(job)
        if job.lease:
            await self.kosha.leases.run_while_held(job.name, job.pass_fn, job.every, on_done=done)
            return
        while True:
            await asyncio.sleep(job.every)
            try:
                result = await call_pass(job.pass_fn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported; the job runs again next time
                done(None, exc)
            else:
                done(result, None)

    @staticmethod
    def _reporter(job: Job) -> Callable[[Any, BaseException | None], None]:
        def done(result: Any, error: BaseException | None) -> None:
            if error is not None and not job.report:
                log.debug("background %s run failed: %s", job.name, error)
            elif error is not None:
                log.error("background %s run failed: %s", job.name, error, exc_info=error)
                if job.report:
                    metrics.background_done(job.name, None, failed=True)
            elif job.report:
                log.info("background %s run: %s", job.name, result)
                metrics.background_done(job.name, result if isinstance(result, dict) else None)
        return done


def register_standard_jobs(kosha: Kosha) -> None:
    """Every kind of background work the server runs. Add new ones here."""
    interval = max(1, kosha.settings.lifecycle_interval)
    kosha.background.register("cache-generation", kosha.generation.poll, POLL_SECONDS,
                              lease=False, report=False)
    kosha.background.register("lifecycle", kosha.lifecycle.run_once, interval)
    kosha.background.register("gc", kosha.objects.collect_garbage, interval)
    clean_dead_writers = getattr(kosha.blobs, "clean_dead_writers", None)
    if clean_dead_writers is not None:  # every process, for the temporary files of its own host
        kosha.background.register("temp-files", clean_dead_writers, min(interval, TEMP_SECONDS),
                                  lease=False, report=False)
    kosha.background.register("activation-failures", kosha.sessions.limiter.prune, PRUNE_SECONDS,
                              report=False)
    if kosha.notifications.specs:   # every process's view of the backlog (delivery: kosha.notify.process)
        kosha.background.register("notify-backlog", kosha.notifications.measure, 1.0,
                                  lease=False, report=False)
