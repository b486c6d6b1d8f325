"""Prometheus metrics of the process, on `GET /metrics` of the KOS port.

Counted as requests end (`observe.Observed`) and as background runs end; what is a level rather
than a count (connections, uploads in flight, bucket usage, uptime) is read at scrape time, so the
request path pays only for a few additions to numbers bound once per operation and status.

Under `--workers N` (the supervisor sets PROMETHEUS_MULTIPROC_DIR before starting the workers)
each worker publishes its numbers into prometheus_client's per-process files every second and
before it answers a scrape (`kosha.metrics_shared`); a scrape, whichever worker answers it, sums
the counters of every worker (dead ones included, so counters never go back) and reports levels
per live process (`pid` label) or summed over them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                   HistogramMetricFamily, Metric)

SHARED_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")   # set by the supervisor: N workers
REGISTRY = CollectorRegistry(auto_describe=False)
STARTED = time.time()
MAX_BUCKETS = 1000   # buckets reported per scrape, largest first: bounds the scrape

LATENCY_BOUNDS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)


class RequestStats:
    """Requests, latency and bytes as plain numbers: the event loop is the only writer, so the
    request path needs no lock (prometheus_client's children take one per call); they become
    Prometheus families at scrape time."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str, int], list[float]] = {}
        self.bytes: dict[str, list[int]] = {}

    def cell(self, port: str, operation: str, status: int) -> list[float]:
        """[count, seconds, count per latency bucket...] of one (port, operation, status)."""
        key = (port, operation, status)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = [0, 0.0] + [0] * (len(LATENCY_BOUNDS) + 1)
        return found

    def port_bytes(self, port: str) -> list[int]:
        """[in, out] of one port."""
        return self.bytes.setdefault(port, [0, 0])

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("kosha_http_requests",
                                       "HTTP requests answered, by port, operation and status.",
                                       labels=["port", "operation", "status"])
        latency = HistogramMetricFamily(
            "kosha_http_request_duration_seconds",
            "Time from the request head to the last byte sent, by port and operation.",
            labels=["port", "operation"])
        by_operation: dict[tuple[str, str], list[float]] = {}
        for (port, operation, status), cell in sorted(self.cells.items()):
            requests.add_metric([port, operation, str(status)], cell[0])
            total = by_operation.setdefault((port, operation), [0.0] * len(cell))
            for i, value in enumerate(cell):
                total[i] += value
        for (port, operation), total in by_operation.items():
            cumulative, buckets = 0.0, []
            for bound, n in zip((*map(str, LATENCY_BOUNDS), "+Inf"), total[2:]):
                cumulative += n
                buckets.append((bound, cumulative))
            latency.add_metric([port, operation], buckets, total[1])
        yield requests
        yield latency
        sent = CounterMetricFamily("kosha_http_bytes", "Body bytes received (in) and sent (out).",
                                   labels=["port", "direction"])
        for port, (bytes_in, bytes_out) in sorted(self.bytes.items()):
            sent.add_metric([port, "in"], bytes_in)
            sent.add_metric([port, "out"], bytes_out)
        yield sent


STATS = RequestStats()
REGISTRY.register(STATS)   # type: ignore[arg-type]
REFUSED = Counter("kosha_http_refused", "Requests and connections refused by the limits "
                  "(431, 414, 408, 503) before reaching an application.", ["port", "status"],
                  registry=REGISTRY)
BACKGROUND_RUNS = Counter("kosha_background_runs", "Background runs by task and result.",
                          ["task", "result"], registry=REGISTRY)
BACKGROUND_ITEMS = Counter("kosha_background_items",
                           "Work done by background runs (versions expired, blobs removed, ...).",
                           ["task", "item"], registry=REGISTRY)
BACKGROUND_LAST_SUCCESS = Gauge("kosha_background_last_success_time_seconds",
                                "When a background task last finished without error (Unix time).",
                                ["task"], registry=REGISTRY, multiprocess_mode="max")
LEASE_HELD = Gauge("kosha_lease_held", "Whether this process holds the lease of a background job "
                   "(summed over live processes: how many hold it, 1 when healthy).",
                   ["lease"], registry=REGISTRY, multiprocess_mode="livesum")
DB_COMMITS = Counter("kosha_db_write_commits",
                     "Transactions the database writer committed: each one durable write to disk "
                     "(an fsync on SQLite), however many writes it carried.", registry=REGISTRY)
DB_WRITES = Counter("kosha_db_writes", "Writes (units of work) committed by the database writer; "
                    "over kosha_db_write_commits, how many writes share one commit.",
                    registry=REGISTRY)
CACHE_CLEARS = Counter("kosha_cache_invalidations",
                       "Times this process emptied its caches because another process committed a "
                       "change (the cache generation moved).", registry=REGISTRY)


def background_done(task: str, counts: dict[str, int] | None, failed: bool = False) -> None:
    """Record one background run of `task` (lifecycle, gc) and what it did."""
    BACKGROUND_RUNS.labels(task, "failed" if failed else "ok").inc()
    if failed:
        return
    BACKGROUND_LAST_SUCCESS.labels(task).set(time.time())
    for item, n in (counts or {}).items():
        if isinstance(n, int) and n:
            BACKGROUND_ITEMS.labels(task, item).inc(n)


class Scrape:
    """The levels read when /metrics is fetched: one collector for one scrape."""

    def __init__(self, *, auth: Any, limits: Any, buckets: Iterable[tuple[str, int, int]]) -> None:
        self.auth = auth
        self.limits = limits
        self.buckets = list(buckets)

    def collect(self) -> Iterator[Metric]:
        if SHARED_DIR is None:   # with several workers the publisher reports these per process
            yield from self.process_levels()
        yield from self.bucket_levels()

    def process_levels(self) -> Iterator[Metric]:
        auth = CounterMetricFamily("kosha_auth", "KOS authentication outcomes.", labels=["result"])
        auth.add_metric(["ok"], self.auth.successes)
        auth.add_metric(["failed"], self.auth.failures)
        yield auth
        yield GaugeMetricFamily("kosha_start_time_seconds",
                                "When this process started (Unix time).", value=STARTED)
        yield GaugeMetricFamily("kosha_uptime_seconds", "Seconds since this process started.",
                                value=time.time() - STARTED)
        if self.limits is not None:
            yield GaugeMetricFamily("kosha_connections_open", "Open client connections, both ports.",
                                    value=self.limits.total_connections)
            yield GaugeMetricFamily("kosha_uploads_in_flight",
                                    "Requests whose body is being received.",
                                    value=self.limits.uploads_in_flight)

    def bucket_levels(self) -> Iterator[Metric]:
        used = GaugeMetricFamily("kosha_bucket_used_bytes", "Bytes stored in a bucket.",
                                 labels=["bucket"])
        objects = GaugeMetricFamily("kosha_bucket_objects", "Objects stored in a bucket.",
                                    labels=["bucket"])
        for name, used_bytes, count in self.buckets:
            used.add_metric([name], used_bytes)
            objects.add_metric([name], count)
        yield used
        yield objects


def render(scrape: Scrape) -> bytes:
    levels = CollectorRegistry(auto_describe=False)
    levels.register(scrape)   # type: ignore[arg-type]
    if SHARED_DIR is not None:
        from . import metrics_shared
        return metrics_shared.render(scrape.auth) + generate_latest(levels)
    return generate_latest(REGISTRY) + generate_latest(levels)


LIMITS: Any = None   # the server's `limits.Limits`, once serving: connections and uploads


def watch(limits: Any) -> None:
    global LIMITS
    LIMITS = limits
