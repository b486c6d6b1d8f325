"""The lifecycle service in process: rule CRUD for S3, and what `run_once` expires as time moves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kosha import clock
from kosha.errors import Conflict, Invalid, NotFound
from kosha.store import lifecycle as lifecycle_sql

from .inprocess import ADMIN, Live

DAY = 86400.0
BIG = b"b" * (100 * 1024)    # past the inline threshold: lives in a blob file


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    instance = Live(tmp_path / "data")
    yield instance
    clock.set_offset(0)
    instance.close()


@pytest.fixture
def t0() -> float:
    return time.time()


def at(t0: float, days: float) -> None:
    """Make the clock read `t0 + days` (for writes done next)."""
    clock.set_offset(t0 + days * DAY - time.time())


def rule(live: Live, bucket: str, **fields: Any) -> dict[str, Any]:
    return live.run(live.kosha.lifecycle.create_rule(ADMIN, bucket, {"name": f"r{time.time_ns()}", **fields}))


def run(live: Live, t0: float, days: float) -> dict[str, int]:
    return live.kosha.lifecycle.run_once(now=t0 + days * DAY)


def keys(live: Live, bucket: str) -> list[str]:
    return [o.key for o in live.run(live.kosha.objects.list(ADMIN, bucket)).objects]


def versions(live: Live, bucket: str, key: str) -> list[tuple[int, bool]]:
    listing = live.run(live.kosha.objects.list_versions(ADMIN, bucket, prefix=key))
    return [(v.size, v.is_delete_marker) for v in listing.versions if v.key == key]


# -- expiry of current versions ---------------------------------------------------------------

def test_expiration_honours_age_and_prefix_and_frees_blobs(live: Live, t0: float) -> None:
    bucket = live.bucket()
    big = live.put(bucket, "logs/big", BIG)
    live.put(bucket, "logs/small", b"s")
    live.put(bucket, "other/keep", b"k")
    live.put(bucket, "logsx", b"x")
    rule(live, bucket, prefix="logs/", expiration_days=10)
    assert run(live, t0, 9)["expired"] == 0
    blob = live.kosha.blobs.path(big.blobs[0][0])
    assert blob.exists()
    assert run(live, t0, 11)["expired"] == 2
    assert keys(live, bucket) == ["logsx", "other/keep"]
    assert live.usage(bucket) == (2, 2)
    assert not blob.exists()
    assert run(live, t0, 11)["expired"] == 0            # idempotent


def test_prefix_is_literal_not_a_pattern(live: Live, t0: float) -> None:
    bucket = live.bucket()
    for key in ("a_1", "ab1", "a%2", "a_%x"):
        live.put(bucket, key)
    rule(live, bucket, prefix="a_", expiration_days=0)
    assert run(live, t0, 1)["expired"] == 2
    assert keys(live, bucket) == ["a%2", "ab1"]


def test_disabled_rules_do_nothing(live: Live, t0: float) -> None:
    bucket = live.bucket()
    live.put(bucket, "k")
    created = rule(live, bucket, expiration_days=1, enabled=False)
    assert run(live, t0, 5) == {"rules": 0, "expired": 0, "noncurrent_removed": 0,
                                "delete_markers_removed": 0, "uploads_aborted": 0, "transitioned": 0}
    live.run(live.kosha.lifecycle.update_rule(ADMIN, bucket, created["id"], {"enabled": True}))
    assert run(live, t0, 5)["expired"] == 1


def test_expiry_works_through_batches(live: Live, t0: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle_sql, "BATCH", 3)
    bucket = live.bucket(versioning=True)
    for i in range(10):
        live.put(bucket, f"k{i}")
        live.put(bucket, f"k{i}")
    rule(live, bucket, expiration_days=1, noncurrent_days=1)
    first = run(live, t0, 2)
    assert (first["expired"], first["noncurrent_removed"]) == (10, 10)
    second = run(live, t0, 10)
    assert (second["expired"], second["noncurrent_removed"]) == (0, 10)
    assert live.usage(bucket) == (0, 0)


# -- versioned buckets ------------------------------------------------------------------------

def test_expiry_in_a_versioned_bucket_writes_a_delete_marker(live: Live, t0: float) -> None:
    bucket = live.bucket(versioning=True)
    live.put(bucket, "k", b"12345")
    rule(live, bucket, expiration_days=1)
    assert run(live, t0, 2)["expired"] == 1
    assert keys(live, bucket) == []
    assert versions(live, bucket, "k") == [(0, True), (5, False)]
    assert live.usage(bucket) == (5, 1)
    assert run(live, t0, 3)["expired"] == 0             # a delete marker does not expire again


def test_noncurrent_age_counts_from_when_a_version_was_replaced(live: Live, t0: float) -> None:
    bucket = live.bucket(versioning=True)
    for day, size in ((0, 1), (1, 2), (2, 3), (3, 4)):   # v1..v4; v4 is current
        at(t0, day)
        live.put(bucket, "k", b"v" * size)
    clock.set_offset(0)
    rule(live, bucket, noncurrent_days=5, newer_noncurrent_versions=1)
    # at day 7.5 the cutoff is day 2.5: v1 (replaced day 1) and v2 (day 2) are old enough;
    # v3 (replaced day 3) is not, and is the one newest noncurrent version kept anyway.
    assert run(live, t0, 7.5)["noncurrent_removed"] == 2
    assert versions(live, bucket, "k") == [(4, False), (3, False)]
    assert run(live, t0, 30)["noncurrent_removed"] == 0   # v3 is kept by newer_noncurrent_versions
    assert live.usage(bucket) == (7, 2)


def test_a_lone_delete_marker_is_removed_once_its_versions_are_gone(live: Live, t0: float) -> None:
    bucket = live.bucket(versioning=True)
    live.put(bucket, "k", b"abc")
    live.put(bucket, "k2", b"z")
    rule(live, bucket, prefix="k", expiration_days=1, noncurrent_days=1, expired_obj_delete_marker=True)
    first = run(live, t0, 2)
    assert (first["expired"], first["noncurrent_removed"], first["delete_markers_removed"]) == (2, 0, 0)
    second = run(live, t0, 4)
    assert (second["noncurrent_removed"], second["delete_markers_removed"]) == (2, 2)
    assert versions(live, bucket, "k") == [] and versions(live, bucket, "k2") == []
    assert live.usage(bucket) == (0, 0)


def test_delete_markers_are_kept_without_the_flag(live: Live, t0: float) -> None:
    bucket = live.bucket(versioning=True)
    live.put(bucket, "k")
    live.run(live.kosha.objects.delete(ADMIN, bucket, "k"))
    rule(live, bucket, noncurrent_days=0)
    assert run(live, t0, 1)["noncurrent_removed"] == 1
    assert versions(live, bucket, "k") == [(0, True)]


# -- multipart uploads ------------------------------------------------------------------------

def test_stale_multipart_uploads_are_aborted(live: Live, t0: float) -> None:
    bucket = live.bucket()
    mpu = live.kosha.multipart

    async def one_part(upload_id: str, key: str) -> Any:
        async def body() -> Any:
            yield b"p" * 1000
        return await mpu.upload_part(ADMIN, bucket, key, upload_id, 1, body())

    old = live.run(mpu.create(ADMIN, bucket, "old"))
    live.run(one_part(old, "old"))
    at(t0, 5)
    fresh = live.run(mpu.create(ADMIN, bucket, "fresh"))
    clock.set_offset(0)
    rule(live, bucket, delete_incomplete_mpu=7)
    assert run(live, t0, 8)["uploads_aborted"] == 1
    remaining, _ = live.run(mpu.list_uploads(ADMIN, bucket))
    assert [u.upload_id for u in remaining] == [fresh]
    with pytest.raises(NotFound):
        live.run(mpu.get(ADMIN, bucket, "old", old))


# -- rule CRUD for the S3 layer ---------------------------------------------------------------

def test_replace_list_and_delete_rules(live: Live) -> None:
    bucket = live.bucket()
    svc = live.kosha.lifecycle
    rule(live, bucket, name="before", expiration_days=3)
    replaced = live.run(svc.replace_rules(ADMIN, bucket, [
        {"name": "a", "enabled": True, "prefix": "x/", "expiration_days": 1},
        {"name": "b", "enabled": False, "delete_incomplete_mpu": 2}]))
    assert [(r["name"], r["status"]) for r in replaced] == [("a", "Enabled"), ("b", "Disabled")]
    assert live.run(svc.list_rules(ADMIN, bucket)) == replaced
    with pytest.raises(Conflict):
        live.run(svc.replace_rules(ADMIN, bucket, [{"name": "c", "expiration_days": 1},
                                                   {"name": "c", "expiration_days": 2}]))
    assert live.run(svc.list_rules(ADMIN, bucket)) == replaced       # nothing half-done
    with pytest.raises(Invalid):
        live.run(svc.replace_rules(ADMIN, bucket, [{"name": "d"}]))
    live.run(svc.delete_rules(ADMIN, bucket))
    assert live.run(svc.list_rules(ADMIN, bucket)) == []


def test_rules_go_with_their_bucket(live: Live) -> None:
    bucket = live.bucket()
    rule(live, bucket, expiration_days=3)
    live.run(live.kosha.buckets.delete(ADMIN, bucket))
    assert live.kosha.lifecycle.run_once()["rules"] == 0
