"""What S3's lifecycle additions do when the worker runs: tag and size filters, a date
expiration, transitions of current and noncurrent versions to another storage class."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kosha import clock
from kosha.errors import Invalid

from .inprocess import ADMIN, Live, _once

DAY = 86400.0


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    instance = Live(tmp_path / "data")
    yield instance
    clock.set_offset(0)
    instance.close()


def rule(live: Live, bucket: str, **fields: Any) -> dict[str, Any]:
    return live.run(live.kosha.lifecycle.create_rule(ADMIN, bucket, {"name": f"r{time.time_ns()}", **fields}))


def put(live: Live, bucket: str, key: str, data: bytes = b"x", **tags: str) -> None:
    live.run(live.kosha.objects.put(ADMIN, bucket, key, _once(data), tags=tags or None))


def keys(live: Live, bucket: str) -> list[str]:
    return [o.key for o in live.run(live.kosha.objects.list(ADMIN, bucket)).objects]


def storage_class(live: Live, bucket: str, key: str, version_id: str | None = None) -> str:
    return str(live.run(live.kosha.objects.head(ADMIN, bucket, key, version_id)).storage_class)


def test_a_tag_filter_expires_only_objects_carrying_every_tag(live: Live) -> None:
    bucket = live.bucket()
    put(live, bucket, "both", team="a", tier="tmp")
    put(live, bucket, "one", team="a")
    put(live, bucket, "other", team="b", tier="tmp")
    rule(live, bucket, expiration_days=1, filter={"form": "and", "tags": {"team": "a", "tier": "tmp"}})
    assert live.kosha.lifecycle.run_once(now=time.time() + 2 * DAY)["expired"] == 1
    assert keys(live, bucket) == ["one", "other"]


def test_size_bounds_are_strict(live: Live) -> None:
    bucket = live.bucket()
    for size in (10, 11, 19, 20):
        put(live, bucket, f"s{size}", b"x" * size)
    rule(live, bucket, expiration_days=1, filter={"form": "and", "size_gt": 10, "size_lt": 20})
    live.kosha.lifecycle.run_once(now=time.time() + 2 * DAY)
    assert keys(live, bucket) == ["s10", "s20"]


def test_a_date_expiration_waits_for_its_date_then_expires_every_match(live: Live) -> None:
    bucket = live.bucket()
    put(live, bucket, "logs/new")
    put(live, bucket, "keep")
    date = time.time() + 3 * DAY
    rule(live, bucket, prefix="logs/", expiration_date=date)
    assert live.kosha.lifecycle.run_once(now=date - 1)["expired"] == 0
    assert live.kosha.lifecycle.run_once(now=date + 1)["expired"] == 1
    assert keys(live, bucket) == ["keep"]


def test_a_transition_changes_the_storage_class_after_its_days(live: Live) -> None:
    bucket = live.bucket()
    put(live, bucket, "a", b"data")
    rule(live, bucket, transitions=[{"days": 30, "storage_class": "GLACIER"}])
    assert live.kosha.lifecycle.run_once(now=time.time() + 29 * DAY)["transitioned"] == 0
    assert storage_class(live, bucket, "a") == "STANDARD"
    assert live.kosha.lifecycle.run_once(now=time.time() + 31 * DAY)["transitioned"] == 1
    assert storage_class(live, bucket, "a") == "GLACIER"
    assert live.kosha.lifecycle.run_once(now=time.time() + 32 * DAY)["transitioned"] == 0


def test_a_noncurrent_transition_moves_only_old_versions(live: Live) -> None:
    bucket = live.bucket(versioning=True)
    put(live, bucket, "k", b"v1")
    put(live, bucket, "k", b"v2")
    rule(live, bucket, noncurrent_transitions=[{"noncurrent_days": 5, "storage_class": "STANDARD_IA"}])
    live.kosha.lifecycle.run_once(now=time.time() + 6 * DAY)
    listing = live.run(live.kosha.objects.list_versions(ADMIN, bucket, prefix="k")).versions
    classes = {v.is_latest: storage_class(live, bucket, "k", v.version_id) for v in listing}
    assert classes == {True: "STANDARD", False: "STANDARD_IA"}


def test_an_unknown_storage_class_is_refused(live: Live) -> None:
    bucket = live.bucket()
    with pytest.raises(Invalid):
        rule(live, bucket, transitions=[{"days": 1, "storage_class": "COLD"}])


def test_a_tag_filter_cannot_remove_delete_markers(live: Live) -> None:
    bucket = live.bucket()
    with pytest.raises(Invalid):
        rule(live, bucket, expired_obj_delete_marker=True, filter={"form": "tag", "tags": {"a": "b"}})
