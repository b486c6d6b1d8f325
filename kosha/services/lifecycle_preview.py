"""The lifecycle preview: what each rule of a bucket will act on, day by day, as the worker would.

The preview runs the worker's own selections (kosha.store.lifecycle, with the cutoff of the end
of its window instead of "now") and dates each item with the worker's own due moments
(kosha.lifecycle_due). Day d covers one UTC calendar date; day 0 is today and also holds
everything already due. The totals up to and including day d are exactly what one worker run at
the end of day d would remove from the bucket as it is now. What the worker's own changes lead
to later is not forecast: a current version it expires in a versioned bucket becomes noncurrent
then, and that version's noncurrent days only start at that run.

Each rule is forecast on its own, as if it were the bucket's only rule: an item two rules cover
counts under both. Memory stays bounded whatever the bucket's size: rows are read in keyset
pages, tallied per day, and only the `SAMPLE` soonest-due items are kept.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from typing import Any

from .. import lifecycle_due as due
from ..clock import iso
from ..store import lifecycle as sql
from ..store.objects import NULL_VERSION

FIELDS = ("objects", "bytes", "noncurrentVersions", "noncurrentBytes", "deleteMarkers", "uploads",
          "uploadBytes")
# kind -> (its count's index in FIELDS, its bytes' index or None)
KINDS: dict[str, tuple[int, int | None]] = {
    "object": (0, 1), "noncurrentVersion": (2, 3), "deleteMarker": (4, None), "upload": (5, 6)}
SAMPLE = 100
MAX_DAYS = 3650
Read = Callable[..., Any]


class Forecast:
    """One rule's tallies per day within the window, and its soonest-due items."""

    def __init__(self, as_of: float, days: int) -> None:
        self.as_of = as_of
        self.start = as_of - as_of % due.DAY          # today, 00:00 UTC
        self.end = self.start + (days + 1) * due.DAY  # the end of the window's last day
        self.days: dict[int, list[int]] = {}
        self._sample: list[tuple[float, int, dict[str, Any]]] = []  # max-heap on the due moment
        self._seen = 0

    def add(self, kind: str, key: str, version_id: str | None, size: int, when: float) -> None:
        if when >= self.end:
            return
        tally = self.days.setdefault(max(0, int((when - self.start) // due.DAY)), [0] * len(FIELDS))
        count, nbytes = KINDS[kind]
        tally[count] += 1
        if nbytes is not None:
            tally[nbytes] += size
        self._seen += 1
        if len(self._sample) < SAMPLE:
            heapq.heappush(self._sample, (-when, -self._seen, _item(kind, key, version_id, size, when)))
        elif -when > self._sample[0][0]:
            heapq.heapreplace(self._sample, (-when, -self._seen, _item(kind, key, version_id, size, when)))

    def as_json(self) -> dict[str, Any]:
        timeline = [{"date": time.strftime("%Y-%m-%d", time.gmtime(self.start + day * due.DAY)),
                     **dict(zip(FIELDS, tally))} for day, tally in sorted(self.days.items())]
        totals = [sum(t[i] for t in self.days.values()) for i in range(len(FIELDS))]
        sample = [item for _w, _n, item in sorted(self._sample, key=lambda e: (-e[0], -e[1]))]
        return {"timeline": timeline, "totals": dict(zip(FIELDS, totals)), "sample": sample}


def _item(kind: str, key: str, version_id: str | None, size: int, when: float) -> dict[str, Any]:
    item = {"key": key, "versionId": version_id, "kind": kind, "size": size, "dueAt": iso(when)}
    if kind == "upload":
        item["uploadId"], item["versionId"] = version_id, None
    return item


def _pages(read: Read, fn: Callable[..., sql.Page], *args: Any) -> Iterator[Any]:
    """Every row of a keyset-paged selection, one page in memory at a time."""
    after = None
    while True:
        rows, after = read(fn, *args, after)
        yield from rows
        if after is None:
            return


def _current_expiry(rule: Any, versioning: str, latest: Any) -> float | None:
    """When expiring the current version makes it the newest noncurrent one (versioned buckets)."""
    if rule.expiration_days is None or latest.is_delete_marker or not latest.is_latest:
        return None
    if versioning == "Enabled" or (versioning == "Suspended" and latest.version_id != NULL_VERSION):
        return due.due_at(latest.last_modified, rule.expiration_days)
    return None


def forecast(read: Read, bucket: str, versioning: str, rule: Any, as_of: float, days: int) -> Forecast:
    """One enabled rule's forecast. Synchronous (`read` is Database.read_sync): run it in a thread."""
    f = Forecast(as_of, days)
    prefix = rule.prefix or ""
    if rule.expiration_days is not None:
        for row in _pages(read, sql.current_due_page, bucket, prefix, due.cutoff(f.end, rule.expiration_days)):
            f.add("object", row.key, row.version_id, row.size, due.due_at(row.last_modified, rule.expiration_days))
    if rule.noncurrent_days is not None:
        keep = rule.newer_noncurrent_versions or 0
        for versions in _pages(read, sql.noncurrent_page, bucket, prefix, due.cutoff(f.end, rule.noncurrent_days)):
            removed = list(due.noncurrent_dues(versions, rule.noncurrent_days, keep,
                                               _current_expiry(rule, versioning, versions[0])))
            for row, when in removed:
                f.add("noncurrentVersion", row.key, row.version_id, row.size, when)
            marker = due.marker_due(versions, removed) if rule.expired_obj_delete_marker else None
            if marker is not None:
                f.add("deleteMarker", versions[0].key, versions[0].version_id, 0, marker)
    if rule.expired_obj_delete_marker:
        for row in _pages(read, sql.lone_markers_page, bucket, prefix):
            f.add("deleteMarker", row.key, row.version_id, 0, min(row.last_modified, as_of))
    if rule.delete_incomplete_mpu is not None:
        for row in _pages(read, sql.stale_uploads_page, bucket, prefix,
                          due.cutoff(f.end, rule.delete_incomplete_mpu)):
            f.add("upload", row.key, row.upload_id, int(row.size),
                  due.due_at(row.initiated, rule.delete_incomplete_mpu))
    return f


def preview(read: Read, bucket: str, versioning: str, rules: list[Any], as_of: float, days: int
            ) -> dict[str, Any]:
    """The whole answer (see docs/extensions.md); disabled rules are listed with nothing due."""
    answers = []
    for rule in rules:
        f = forecast(read, bucket, versioning, rule, as_of, days) if rule.enabled else Forecast(as_of, days)
        answers.append({"id": rule.rule_id, "name": rule.name, "prefix": rule.prefix or "",
                        "enabled": bool(rule.enabled), **f.as_json()})
    return {"bucket": bucket, "asOf": iso(as_of), "days": days, "rules": answers}
