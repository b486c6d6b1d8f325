"""The lifecycle preview against the worker, in process: for every day d of the window, the
preview's totals up to d are what one worker run at the end of day d removes (on a copy of the
data directory, so every run starts from the bucket the preview saw)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosha import clock
from kosha.errors import Invalid, NotFound

from .inprocess import ADMIN, Live
from .test_lifecycle import live  # noqa: F401 (the fixture)

DAY = 86400.0
KINDS = (("objects", "bytes"), ("noncurrentVersions", "noncurrentBytes"), ("deleteMarkers", None),
         ("uploads", "uploadBytes"))


@dataclass
class Event:
    age: float            # days before now
    key: str
    size: int | None      # None: a DELETE (a delete marker in a versioned bucket)
    upload: bool = False  # an unfinished multipart upload of `size` bytes instead of a PUT


events = st.builds(Event, age=st.floats(0, 30, allow_nan=False), key=st.sampled_from(["a/1", "a/2", "b/1"]),
                   size=st.sampled_from([None, 1, 20, 300]), upload=st.sampled_from([False, False, False, True]))
days_or_none = st.sampled_from([None, 0, 1, 3, 7, 12])
rules = st.fixed_dictionaries({
    "prefix": st.sampled_from(["", "a/"]), "expiration_days": days_or_none, "noncurrent_days": days_or_none,
    "newer_noncurrent_versions": st.one_of(st.none(), st.integers(0, 2)),
    "expired_obj_delete_marker": st.booleans(), "delete_incomplete_mpu": days_or_none,
}).filter(lambda r: r["noncurrent_days"] is not None or r["newer_noncurrent_versions"] is None).filter(
    lambda r: r["expired_obj_delete_marker"] or any(
        r[f] is not None for f in ("expiration_days", "noncurrent_days", "delete_incomplete_mpu")))


async def _body(size: int) -> AsyncIterator[bytes]:
    yield b"x" * size


def build(live: Live, versioning: bool, history: list[Event]) -> tuple[str, dict[str, int]]:
    """Write `history` oldest first at its ages; answer the bucket and each upload's bytes."""
    bucket = live.bucket(versioning=versioning)
    uploads = {}
    for event in sorted(history, key=lambda e: -e.age):
        clock.set_offset(-event.age * DAY)
        if event.upload and event.size is not None:
            upload_id = live.run(live.kosha.multipart.create(ADMIN, bucket, event.key))
            live.run(live.kosha.multipart.upload_part(ADMIN, bucket, event.key, upload_id, 1, _body(event.size)))
            uploads[upload_id] = event.size
        elif event.size is None:
            live.run(live.kosha.objects.delete(ADMIN, bucket, event.key))
        else:
            live.put(bucket, event.key, b"v" * event.size)
    clock.set_offset(0)
    return bucket, uploads


def state(live: Live, bucket: str) -> tuple[set[tuple[str, str, bool, bool, int]], set[str]]:
    listing = live.run(live.kosha.objects.list_versions(ADMIN, bucket, max_keys=1000))
    versions = {(v.key, v.version_id, v.is_latest, v.is_delete_marker, v.size) for v in listing.versions}
    uploads = {u.upload_id for u in live.run(live.kosha.multipart.list_uploads(ADMIN, bucket))[0]}
    return versions, uploads


def removed(before: Any, after: Any, upload_bytes: dict[str, int]) -> dict[str, int]:
    """What went between two states, in the preview's fields."""
    (versions, uploads), (versions_after, uploads_after) = before, after
    still = {(key, vid): latest for key, vid, latest, _m, _s in versions_after}
    out = dict.fromkeys(("objects", "bytes", "noncurrentVersions", "noncurrentBytes", "deleteMarkers",
                         "uploads", "uploadBytes"), 0)
    for key, vid, latest, marker, size in versions:
        if latest and not marker and still.get((key, vid)) is not True:
            out["objects"] += 1
            out["bytes"] += size
        elif not latest and (key, vid) not in still:
            out["noncurrentVersions"] += 1
            out["noncurrentBytes"] += size
        elif latest and marker and (key, vid) not in still:
            out["deleteMarkers"] += 1
    for upload_id in uploads - uploads_after:
        out["uploads"] += 1
        out["uploadBytes"] += upload_bytes[upload_id]
    return out


def cumulative(rule: dict[str, Any], as_of: datetime, day: int) -> dict[str, int]:
    """The preview's totals from today up to and including `day`."""
    totals = dict.fromkeys(rule["totals"], 0)
    for entry in rule["timeline"]:
        if (date.fromisoformat(entry["date"]) - as_of.date()).days <= day:
            for field in totals:
                totals[field] += entry[field]
    return totals


def worker_at_end_of_day(data: Path, day: int, as_of: datetime, bucket: str, upload_bytes: dict[str, int]
                         ) -> tuple[dict[str, int], dict[str, int]]:
    """Run the worker once at the end of `day` on a copy of `data`; what it removed, and its counts."""
    copy = Path(tempfile.mkdtemp(dir=data.parent)) / "data"
    shutil.copytree(data, copy)
    live = Live(copy)
    try:
        before = state(live, bucket)
        end_of_day = datetime.combine(as_of.date(), datetime.min.time(), timezone.utc) + timedelta(days=day + 1)
        counts = live.kosha.lifecycle.run_once(now=end_of_day.timestamp())
        return removed(before, state(live, bucket), upload_bytes), counts
    finally:
        live.close()
        shutil.rmtree(copy.parent)


def check_against_the_worker(tmp_path: Path, versioning: bool, history: list[Event], rule: dict[str, Any],
                             window: int) -> dict[str, Any]:
    """Ask the preview, then run the worker at the end of several days of the window; answer the
    rule's forecast."""
    data = Path(tempfile.mkdtemp(dir=tmp_path)) / "data"
    live = Live(data)
    try:
        bucket, upload_bytes = build(live, versioning, history)
        live.run(live.kosha.lifecycle.create_rule(ADMIN, bucket, {"name": "r", **rule}))
        answer = live.run(live.kosha.lifecycle.preview(ADMIN, bucket, days=window))
    finally:
        clock.set_offset(0)
        live.close()
    [forecast] = answer["rules"]
    as_of = datetime.fromisoformat(answer["asOf"].replace("Z", "+00:00"))
    for day in sorted({0, window // 2, window}):
        gone, counts = worker_at_end_of_day(data, day, as_of, bucket, upload_bytes)
        assert gone == cumulative(forecast, as_of, day), (day, forecast)
        assert (counts["expired"], counts["noncurrent_removed"], counts["delete_markers_removed"],
                counts["uploads_aborted"]) == tuple(gone[count] for count, _ in KINDS)
    assert forecast["totals"] == cumulative(forecast, as_of, window)
    assert len(forecast["sample"]) == min(100, sum(forecast["totals"][count] for count, _ in KINDS))
    return dict(forecast)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(versioning=st.sampled_from([True, True, False]), history=st.lists(events, min_size=4, max_size=14), rule=rules, window=st.integers(0, 20))
def test_the_preview_up_to_day_d_is_what_a_worker_run_at_day_d_removes(
        tmp_path: Path, versioning: bool, history: list[Event], rule: dict[str, Any], window: int) -> None:
    check_against_the_worker(tmp_path, versioning, history, rule, window)


def put(age: float, key: str = "k", size: int = 10) -> Event:
    return Event(age, key, size)


def delete(age: float, key: str = "k") -> Event:
    return Event(age, key, None)


# (history, rule, window, the preview's expected totals: {field: value} for the fields named)
SCENARIOS = {
    "a marker goes the day its last version does": (
        [put(20, size=7), delete(9.5)], {"noncurrent_days": 5, "expired_obj_delete_marker": True}, 10,
        {"noncurrentVersions": 1, "noncurrentBytes": 7, "deleteMarkers": 1}),
    "a marker stays while newer_noncurrent_versions keeps a version": (
        [put(20), put(19), delete(18)],
        {"noncurrent_days": 1, "newer_noncurrent_versions": 1, "expired_obj_delete_marker": True}, 10,
        {"noncurrentVersions": 1, "deleteMarkers": 0}),
    "an expiring current version frees the oldest kept one": (
        [put(20, size=1), put(19, size=2), put(6.5, size=4)],
        {"expiration_days": 3, "noncurrent_days": 1, "newer_noncurrent_versions": 1}, 5,
        {"objects": 1, "bytes": 4, "noncurrentVersions": 2, "noncurrentBytes": 3}),
    "a lone marker is due today": (
        [delete(3)], {"expired_obj_delete_marker": True}, 0, {"deleteMarkers": 1}),
    "uploads are aborted after delete_incomplete_mpu days": (
        [Event(2.5, "u", 100, upload=True), Event(0.1, "u", 50, upload=True)], {"delete_incomplete_mpu": 2}, 3,
        {"uploads": 2, "uploadBytes": 150}),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenarios_against_the_worker(tmp_path: Path, name: str) -> None:
    history, rule, window, expected = SCENARIOS[name]
    forecast = check_against_the_worker(tmp_path, True, history, rule, window)
    assert {field: forecast["totals"][field] for field in expected} == expected


# -- the answer's shape -----------------------------------------------------------------------

def test_items_already_due_count_today_and_the_sample_is_soonest_first(live: Live) -> None:
    bucket = live.bucket()
    for key, age in (("old", 40), ("mid", 12), ("new", 1)):
        clock.set_offset(-age * DAY)
        live.put(bucket, key, b"12345")
    clock.set_offset(0)
    live.run(live.kosha.lifecycle.create_rule(ADMIN, bucket, {"name": "ten", "expiration_days": 10}))
    [rule] = live.run(live.kosha.lifecycle.preview(ADMIN, bucket, days=30))["rules"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert [(e["date"] == today, e["objects"], e["bytes"]) for e in rule["timeline"]] == [
        (True, 2, 10), (False, 1, 5)]
    assert [(s["key"], s["kind"], s["size"]) for s in rule["sample"]] == [
        ("old", "object", 5), ("mid", "object", 5), ("new", "object", 5)]


def test_disabled_rules_are_listed_with_nothing_due(live: Live) -> None:
    bucket = live.bucket()
    live.put(bucket, "k")
    live.run(live.kosha.lifecycle.create_rule(ADMIN, bucket, {"name": "off", "expiration_days": 0,
                                                              "enabled": False}))
    [rule] = live.run(live.kosha.lifecycle.preview(ADMIN, bucket, days=5))["rules"]
    assert (rule["enabled"], rule["timeline"], rule["totals"]["objects"]) == (False, [], 0)


def test_one_rule_by_id_and_bad_arguments(live: Live) -> None:
    bucket = live.bucket()
    svc = live.kosha.lifecycle
    first = live.run(svc.create_rule(ADMIN, bucket, {"name": "a", "expiration_days": 1}))
    live.run(svc.create_rule(ADMIN, bucket, {"name": "b", "expiration_days": 2}))
    answer = live.run(svc.preview(ADMIN, bucket, days=0, rule_id=first["id"]))
    assert [r["name"] for r in answer["rules"]] == ["a"] and answer["days"] == 0
    with pytest.raises(NotFound):
        live.run(svc.preview(ADMIN, bucket, rule_id="nope"))
    for days in (-1, 3651):
        with pytest.raises(Invalid):
            live.run(svc.preview(ADMIN, bucket, days=days))
