"""A bucket's quota changed after creation: `allocatedCapacity` on PUT /kos/v1/buckets/{bucketId}."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .kos_helpers import API, create_bucket, download, expect, get_bucket, upload


def _quota(client: Any, name: str, value: Any) -> Any:
    return client.put(f"{API}/buckets/{name}", json={"allocatedCapacity": value})


def test_update_sets_a_quota_on_a_bucket_created_without_one(account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    body = expect(_quota(account, name, 4096), 200)
    assert body["allocatedCapacity"] == 4096
    assert get_bucket(account, name)["allocatedCapacity"] == 4096


def test_null_removes_the_quota(account: Any) -> None:
    name = create_bucket(account, allocatedCapacity=100)["bucketName"]
    assert expect(_quota(account, name, None), 200)["allocatedCapacity"] is None
    expect(upload(account, name, {"big.bin": b"x" * 1000}), 201)


def test_an_update_without_the_field_keeps_the_quota(account: Any) -> None:
    name = create_bucket(account, allocatedCapacity=2048)["bucketName"]
    body = expect(account.put(f"{API}/buckets/{name}", json={"tags": {"a": "b"}}), 200)
    assert (body["allocatedCapacity"], body["tags"]) == (2048, {"a": "b"})


def test_a_quota_below_the_bytes_stored_refuses_new_writes_and_keeps_the_objects(account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    expect(upload(account, name, {"kept.bin": b"k" * 500}), 201)
    assert expect(_quota(account, name, 100), 200)["usedCapacity"] == 500
    assert upload(account, name, {"more.bin": b"m"}).status_code == 403
    assert download(account, name, "kept.bin").content == b"k" * 500
    expect(_quota(account, name, 10_000), 200)
    expect(upload(account, name, {"more.bin": b"m"}), 201)


def test_a_negative_quota_is_refused_and_changes_nothing(account: Any) -> None:
    name = create_bucket(account, allocatedCapacity=300)["bucketName"]
    assert _quota(account, name, -1).status_code == 400
    assert get_bucket(account, name)["allocatedCapacity"] == 300


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                       st.lists(st.integers(), max_size=2)))
def test_a_quota_that_is_not_an_integer_is_422(account: Any, value: Any) -> None:
    name = create_bucket(account, allocatedCapacity=300)["bucketName"]
    assert _quota(account, name, value).status_code == 422
    assert get_bucket(account, name)["allocatedCapacity"] == 300


def test_another_accounts_bucket_quota_cannot_be_changed(account: Any, new_account: Any) -> None:
    name = create_bucket(account, allocatedCapacity=300)["bucketName"]
    assert _quota(new_account(), name, None).status_code == 404
    assert get_bucket(account, name)["allocatedCapacity"] == 300


def test_a_member_without_a_policy_cannot_change_the_quota(account: Any, member: Any) -> None:
    name = create_bucket(account, allocatedCapacity=300)["bucketName"]
    assert _quota(member, name, 10**12).status_code == 403
    assert get_bucket(account, name)["allocatedCapacity"] == 300
