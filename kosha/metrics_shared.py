"""/metrics under `--workers N`: each worker's numbers in prometheus_client's multiprocess files.

The request path keeps counting into plain numbers (`metrics.STATS`, no lock, no file write per
request); this module copies what changed into mmap-backed prometheus_client metrics every
`INTERVAL` seconds, when the worker stops, and just before the worker that answers a scrape reads
every process's files with `MultiProcessCollector`. So a scrape sees its own worker exactly and
the others at most `INTERVAL` seconds late. Counters of a worker that died stay in its files and
keep counting in the sums; its live gauges are removed by the supervisor (`mark_process_dead`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from . import metrics

INTERVAL = 1.0   # seconds between publications of one worker

_REQUESTS = Counter("kosha_http_requests", "HTTP requests answered, by port, operation and status.",
                    ["port", "operation", "status"], registry=None)
_LATENCY = Histogram("kosha_http_request_duration_seconds",
                     "Time from the request head to the last byte sent, by port and operation.",
                     ["port", "operation"], buckets=metrics.LATENCY_BOUNDS, registry=None)
_BYTES = Counter("kosha_http_bytes", "Body bytes received (in) and sent (out).",
                 ["port", "direction"], registry=None)
_AUTH = Counter("kosha_auth", "KOS authentication outcomes.", ["result"], registry=None)
_CONNECTIONS = Gauge("kosha_connections_open", "Open client connections, both ports, all workers.",
                     registry=None, multiprocess_mode="livesum")
_UPLOADS = Gauge("kosha_uploads_in_flight", "Requests whose body is being received, all workers.",
                 registry=None, multiprocess_mode="livesum")
_STARTED = Gauge("kosha_start_time_seconds", "When each live worker process started (Unix time).",
                 registry=None, multiprocess_mode="liveall")
_UPTIME = Gauge("kosha_uptime_seconds", "Seconds since each live worker process started.",
                registry=None, multiprocess_mode="liveall")
_ANSWERED = Gauge("kosha_worker_requests", "HTTP requests answered by each live worker process.",
                  registry=None, multiprocess_mode="liveall")


class _Published:
    """What this process has already copied into its files, to publish only the difference."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, int], list[float]] = {}
        self.bytes: dict[str, list[int]] = {}
        self.auth = [0, 0]


_DONE = _Published()
_LOCK = threading.Lock()


def publish(auth: Any) -> None:
    """Copy this process's counts since the last call into its multiprocess files."""
    with _LOCK:
        _publish(auth)


def _publish(auth: Any) -> None:
    total = 0
    for key, cell in list(metrics.STATS.cells.items()):
        seen = _DONE.cells.setdefault(key, [0.0] * len(cell))
        total += int(cell[0])
        if cell[0] == seen[0]:
            continue
        port, operation, status = key
        _REQUESTS.labels(port, operation, str(status)).inc(cell[0] - seen[0])
        child = _LATENCY.labels(port, operation)
        child._sum.inc(cell[1] - seen[1])
        for i, (now, before) in enumerate(zip(cell[2:], seen[2:])):
            if now != before:
                child._buckets[i].inc(now - before)
        _DONE.cells[key] = list(cell)
    for port, counts in list(metrics.STATS.bytes.items()):
        seen_bytes = _DONE.bytes.setdefault(port, [0, 0])
        for i, direction in enumerate(("in", "out")):
            if counts[i] != seen_bytes[i]:
                _BYTES.labels(port, direction).inc(counts[i] - seen_bytes[i])
        _DONE.bytes[port] = list(counts)
    if auth is not None:
        for i, (result, now_count) in enumerate((("ok", auth.successes), ("failed", auth.failures))):
            if now_count != _DONE.auth[i]:
                _AUTH.labels(result).inc(now_count - _DONE.auth[i])
                _DONE.auth[i] = now_count
    limits = metrics.LIMITS
    if limits is not None:
        _CONNECTIONS.set(limits.total_connections)
        _UPLOADS.set(limits.uploads_in_flight)
    _STARTED.set(metrics.STARTED)
    _UPTIME.set(time.time() - metrics.STARTED)
    _ANSWERED.set(total)


async def publish_forever(auth: Any) -> None:
    while True:
        publish(auth)
        await asyncio.sleep(INTERVAL)


def process_gone(pid: int) -> None:
    """A child process of this one died: drop its live gauges (its counters keep counting)."""
    from prometheus_client.multiprocess import mark_process_dead
    mark_process_dead(pid, metrics.SHARED_DIR or os.environ["PROMETHEUS_MULTIPROC_DIR"])


def render(auth: Any) -> bytes:
    """Every worker's metrics, summed (counters) or per live process (levels)."""
    publish(auth)
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=metrics.SHARED_DIR or os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return generate_latest(registry)
