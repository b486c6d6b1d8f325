"""Records the events of one write in the write's own transaction (the outbox pattern).

A `Recorder` is made by the notification service before a write, only when a bucket the write
touches has a configuration and a target is configured; the store's commit functions call it
after they changed what they describe. One matching change costs one row insert (plus, on
PostgreSQL, a shared advisory lock; see kosha.store.outbox). When the outbox holds the
configured maximum of rows (`Gate`), the event is dropped with an ERROR log and a metric: the
user's write never fails for a notification.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from ..store import outbox
from . import events, rules
from .metrics import DROPPED

log = logging.getLogger("kosha.notify")
DROP_LOG_SECONDS = 10.0
_ROUTES_TEXT: dict[tuple[tuple[str, ...], ...], str] = {}


class Gate:
    """The backlog limit: an estimate of the outbox's rows, refreshed every second by the
    monitor (kosha.services.notifications), plus the rows this process recorded since.

    Approximate by design (no count on the request path): a limit check may miss the rows of
    transactions still in flight when the outbox was measured, and other processes' rows of the
    last second, so the outbox may pass the limit by that much; it never grows without bound."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.measured = 0
        self.since = 0
        self.dropped = 0
        self._logged = 0.0

    def snapshot(self) -> int:
        """Call before reading the outbox's size; pass the answer to `measure`."""
        return self.since

    def measure(self, rows: int, since_before: int) -> None:
        """Rows counted by a read that began when `since` was `since_before`: inserts after
        that moment stay counted (possibly twice, briefly: the limit errs on the safe side)."""
        self.measured, self.since = rows, self.since - since_before

    def allow(self) -> bool:
        return self.measured + self.since < self.limit

    def took(self) -> None:
        self.since += 1

    def drop(self, bucket: str, key: str, event_name: str) -> None:
        self.dropped += 1
        DROPPED.inc()
        now = time.monotonic()
        if now - self._logged >= DROP_LOG_SECONDS:
            self._logged = now
            log.error("notification outbox is full (%d rows, --notify-backlog-max): event %s of "
                      "%s/%s dropped (%d dropped so far); is a target down?", self.limit,
                      event_name, bucket, key, self.dropped)


class BucketInfo:
    """A bucket's notification settings as a write needs them, kept across requests while the
    bucket's configuration is the same (NotificationService.info): which configurations an
    event selects is worked out once per event name when no configuration filters keys."""

    __slots__ = ("name", "owner", "region", "configs", "_by_key", "_routes")

    def __init__(self, name: str, owner: str, region: str, configs: list[dict[str, Any]]) -> None:
        self.name, self.owner, self.region, self.configs = name, owner, region, configs
        self._by_key = any(c.get("prefix") or c.get("suffix") for c in configs)
        self._routes: dict[tuple[str, frozenset[str]], str | None] = {}

    def routes_text(self, event_name: str, key: str, targets: frozenset[str]) -> str | None:
        """The JSON of [[configuration id, target id], ...] this event goes to (None: none)."""
        if self._by_key:
            return _text(rules.routes(self.configs, event_name, key, targets))
        found = self._routes.get((event_name, targets), _UNKNOWN)
        if found is _UNKNOWN:
            found = self._routes[(event_name, targets)] = _text(
                rules.routes(self.configs, event_name, key, targets))
        return found  # type: ignore[return-value]


_UNKNOWN = object()


class Recorder:
    """What records one write's events (made per request: `origin` and `when` are its own)."""

    __slots__ = ("gate", "buckets", "targets", "origin", "when", "created_event",
                 "removed_prefix")

    def __init__(self, gate: Gate, buckets: dict[str, BucketInfo], targets: frozenset[str],
                 origin: events.Origin, when: float, created_event: str = "ObjectCreated:Put",
                 removed_prefix: str = "ObjectRemoved") -> None:
        self.gate, self.buckets, self.targets = gate, buckets, targets
        self.origin, self.when = origin, when
        self.created_event, self.removed_prefix = created_event, removed_prefix

    def created(self, conn: Any, bucket: str, row: Mapping[str, Any]) -> None:
        """A new current version (`row`: the version row just written)."""
        self._emit(conn, bucket, row["key"], self.created_event, row["size"], row["etag"],
                   row["version_id"])

    def removed(self, conn: Any, bucket: str, key: str, version_id: str | None,
                marker_created: bool) -> None:
        """A version deleted, or (`marker_created`) a delete marker written."""
        name = f"{self.removed_prefix}:{'DeleteMarkerCreated' if marker_created else 'Delete'}"
        self._emit(conn, bucket, key, name, None, None, version_id)

    def _emit(self, conn: Any, bucket: str, key: str, event_name: str, size: int | None,
              etag: str | None, version_id: str | None) -> None:
        """One outbox row of the event's fields, in the order of kosha.store.outbox.Event (a
        plain tuple: this runs on the writer thread, once per write); the AWS JSON is written
        by the delivery process."""
        info = self.buckets.get(bucket)
        if info is None:
            return
        routes = info.routes_text(event_name, key, self.targets)
        if routes is None:
            return
        if not self.gate.allow():
            self.gate.drop(bucket, key, event_name)
            return
        principal, source_ip, request_id = self.origin
        outbox.record(conn, (bucket, key, event_name, routes, self.when, size, etag, version_id,
                             info.region, info.owner, principal, source_ip, request_id))
        self.gate.took()


def _text(routes: list[list[str]]) -> str | None:
    if not routes:
        return None
    return events.remembered(_ROUTES_TEXT, tuple(map(tuple, routes)), _dumped, 1000)


def _dumped(routes: tuple[tuple[str, ...], ...]) -> str:
    return json.dumps([list(route) for route in routes])
