"""Edges of the extension routes found by using them carelessly: numbers too large to store,
numbers written with other digits, and actions that do not exist. Each is a 4xx, never a 5xx."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .kos_helpers import API, create_bucket, expect

DAY_FIELDS = ["expiration_days", "noncurrent_days", "delete_incomplete_mpu"]


@pytest.fixture
def bucket(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


@pytest.mark.parametrize("field", DAY_FIELDS)
@pytest.mark.parametrize("days", [10**20, 2**63, 1_000_001])
def test_a_lifecycle_day_count_too_large_is_400(account: Any, bucket: str, field: str,
                                                days: int) -> None:
    body = {"name": "far", "enabled": True, field: days}
    answer = expect(account.post(f"{API}/buckets/{bucket}/lifecycle-rules", json=body), 400)
    assert field in answer["message"]


def test_the_largest_lifecycle_day_count_is_accepted_and_previewed(account: Any,
                                                                   bucket: str) -> None:
    body = {"name": "far", "enabled": True, "expiration_days": 1_000_000}
    expect(account.post(f"{API}/buckets/{bucket}/lifecycle-rules", json=body), 201)
    expect(account.get(f"{API}/buckets/{bucket}/lifecycle-rules/preview"), 200)


@pytest.mark.parametrize("value", ["٣", "３", "1_0", " 5", "+5", "5 ", "0x5", "1e1"])
@pytest.mark.parametrize("route", ["lifecycle-rules/preview?days=", "objects/versions?max_keys="])
def test_a_query_number_in_other_digits_or_syntax_is_400(account: Any, bucket: str, route: str,
                                                         value: str) -> None:
    answer = expect(account.get(f"{API}/buckets/{bucket}/{route}{value}"), 400)
    assert "integer" in answer["message"]


def test_simulating_an_unknown_action_is_422_for_an_admin_too(account: Any, bucket: str) -> None:
    answer = expect(account.post(f"{API}/account/simulate",
                                 json={"action": "kos:GetObjekt", "bucket": bucket}), 422)
    assert "kos:GetObject" in answer["message"]


def test_simulating_an_action_in_other_case_is_answered(account: Any, bucket: str) -> None:
    answer = expect(account.post(f"{API}/account/simulate",
                                 json={"action": "kos:getobject", "bucket": bucket}), 200)
    assert answer["allowed"] is True


def test_a_policy_of_many_stars_cannot_stall_the_server(account: Any, member: Any,
                                                        bucket: str) -> None:
    pattern = f"krn:kos:*:{account.account_id}:*" + "*a" * 30 + "b"
    policy = expect(account.post(f"{API}/account/policies", json={"name": "stars", "statements": [
        {"effect": "Allow", "actions": ["kos:GetObject"], "resources": [pattern]}]}), 201)
    expect(account.post(f"{API}/account/policies/attach",
                        json={"policyKRNs": [policy["policyKRN"]], "users": [member.kcid]}), 200)
    started = time.monotonic()
    answer = expect(account.post(f"{API}/account/simulate", json={
        "kcid": member.kcid, "action": "kos:GetObject", "bucket": bucket, "key": "a" * 1000}), 200)
    assert answer["decision"] == "implicit-deny"
    expect(member.post(f"{API}/buckets/{bucket}/objects/metadata",
                       json={"objectkey": "a" * 1000}), 403)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("content_type", ["text/plain\r\nX-Evil: 1", "text/plain\n", "a\x00b",
                                          "text/plain; name=日本"])
def test_an_upload_content_type_a_header_cannot_carry_is_400(account: Any, bucket: str,
                                                              content_type: str) -> None:
    answer = expect(account.post(f"{API}/buckets/{bucket}/uploads",
                                 json={"objectkey": "k", "contentType": content_type}), 400)
    assert "contentType" in answer["message"]
    assert expect(account.get(f"{API}/buckets/{bucket}/uploads"), 200)["uploads"] == []


@pytest.mark.parametrize("declared", [b"text/\x01plain", b"text/plain\x7f"])
def test_a_form_part_type_a_header_cannot_carry_is_replaced_by_a_guess(account: Any, bucket: str,
                                                                       declared: bytes) -> None:
    body = (b'--BB\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            b"Content-Type: " + declared + b"\r\n\r\nhello\r\n--BB--\r\n")
    expect(account.put(f"{API}/buckets/{bucket}/objects", content=body,
                       headers={"Content-Type": "multipart/form-data; boundary=BB"}), 201)
    got = account.post(f"{API}/buckets/{bucket}/objects/download", json={"objectkey": "a.txt"},
                       headers={"Accept": "application/octet-stream"})
    assert got.status_code == 200 and got.content == b"hello"
    assert got.headers["content-type"].startswith("text/plain")
