"""KOS REST lifecycle rules: CRUD and validation over HTTP (enforcement: test_write_path.py and
tests/services/test_lifecycle.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .kos_helpers import API, create_bucket, expect

RULE = {"name": "expire-logs", "enabled": True, "expiration_days": 30, "expired_obj_delete_marker": None,
        "noncurrent_days": 7, "newer_noncurrent_versions": 2, "delete_incomplete_mpu": 3,
        "attribute": "last_modified", "prefix": "logs/"}


@pytest.fixture
def rules_url(account: Any) -> str:
    return f"{API}/buckets/{create_bucket(account)['bucketName']}/lifecycle-rules"


def test_create_get_list_update_delete(account: Any, rules_url: str) -> None:
    created = expect(account.post(rules_url, json=RULE), 201)
    assert created["id"] and created["status"] == "Enabled"
    assert {k: created[k] for k in RULE} == RULE
    rule_url = f"{rules_url}/{created['id']}"
    assert expect(account.get(rule_url), 200) == created
    assert expect(account.get(rules_url), 200) == [created]
    updated = expect(account.put(rule_url, json={"enabled": False, "noncurrent_days": None,
                                                 "newer_noncurrent_versions": None}), 200)
    assert (updated["status"], updated["enabled"], updated["noncurrent_days"]) == ("Disabled", False, None)
    assert (updated["name"], updated["expiration_days"], updated["prefix"]) == ("expire-logs", 30, "logs/")
    assert account.delete(rule_url).status_code == 204
    assert account.get(rule_url).status_code == 404
    assert account.delete(rule_url).status_code == 404
    assert account.put(rule_url, json={"enabled": True}).status_code == 404
    assert expect(account.get(rules_url), 200) == []


def test_defaults_enabled_and_no_prefix(account: Any, rules_url: str) -> None:
    created = expect(account.post(rules_url, json={"name": "mpu", "delete_incomplete_mpu": 1}), 201)
    assert (created["enabled"], created["status"], created["prefix"]) == (True, "Enabled", "")


@pytest.mark.parametrize("body", [
    {"expiration_days": 3},                                   # no name
    {"name": "  ", "expiration_days": 3},
    {"name": "x"},                                            # no action
    {"name": "x", "expired_obj_delete_marker": False},        # no action either
    {"name": "x", "expiration_days": -1},
    {"name": "x", "expiration_days": 1.5},
    {"name": "x", "expiration_days": "3"},
    {"name": "x", "noncurrent_days": True},
    {"name": "x", "newer_noncurrent_versions": 2},             # needs noncurrent_days
    {"name": "x", "expiration_days": 3, "enabled": "yes"},
    {"name": "x", "expiration_days": 3, "prefix": 7},
])
def test_invalid_rules_are_400(account: Any, rules_url: str, body: dict[str, Any]) -> None:
    assert account.post(rules_url, json=body).status_code == 400


def test_names_are_unique_per_bucket(account: Any, rules_url: str) -> None:
    expect(account.post(rules_url, json={"name": "a", "expiration_days": 1}), 201)
    second = expect(account.post(rules_url, json={"name": "b", "expiration_days": 1}), 201)
    assert account.post(rules_url, json={"name": "a", "expiration_days": 2}).status_code == 409
    assert account.put(f"{rules_url}/{second['id']}", json={"name": "a"}).status_code == 409
    other = f"{API}/buckets/{create_bucket(account)['bucketName']}/lifecycle-rules"
    expect(account.post(other, json={"name": "a", "expiration_days": 1}), 201)


def test_update_validates_the_merged_rule(account: Any, rules_url: str) -> None:
    rule = expect(account.post(rules_url, json={"name": "a", "expiration_days": 1}), 201)
    assert account.put(f"{rules_url}/{rule['id']}", json={"expiration_days": None}).status_code == 400
    assert account.put(f"{rules_url}/{rule['id']}", json={"expiration_days": -5}).status_code == 400
    assert expect(account.get(f"{rules_url}/{rule['id']}"), 200)["expiration_days"] == 1


def test_unknown_bucket_and_rule_are_404(account: Any, rules_url: str) -> None:
    missing = f"{API}/buckets/no-such-bucket-xyz/lifecycle-rules"
    assert account.get(missing).status_code == 404
    assert account.post(missing, json={"name": "a", "expiration_days": 1}).status_code == 404
    assert account.get(f"{rules_url}/does-not-exist").status_code == 404


def test_another_account_gets_404(account: Any, rules_url: str, new_account: Any) -> None:
    rule = expect(account.post(rules_url, json={"name": "a", "expiration_days": 1}), 201)
    other = new_account()
    assert other.get(rules_url).status_code == 404
    assert other.post(rules_url, json={"name": "b", "expiration_days": 1}).status_code == 404
    assert other.get(f"{rules_url}/{rule['id']}").status_code == 404
    assert other.put(f"{rules_url}/{rule['id']}", json={"enabled": False}).status_code == 404
    assert other.delete(f"{rules_url}/{rule['id']}").status_code == 404
    assert expect(account.get(rules_url), 200)[0]["enabled"] is True


def test_s3_lifecycle_configuration_reads_and_replaces_the_same_rules(account: Any, s3_client: Any) -> None:
    name = create_bucket(account)["bucketName"]
    url = f"{API}/buckets/{name}/lifecycle-rules"
    expect(account.post(url, json={"name": "rest-rule", "expiration_days": 9, "prefix": "tmp/"}), 201)
    s3 = s3_client(account.access_key, account.secret_key)
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert (rule["ID"], rule["Expiration"]["Days"], rule["Filter"]["Prefix"]) == ("rest-rule", 9, "tmp/")
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "s3-rule", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    [only] = expect(account.get(url), 200)
    assert (only["name"], only["delete_incomplete_mpu"], only["expiration_days"]) == ("s3-rule", 2, None)
    s3.delete_bucket_lifecycle(Bucket=name)
    assert expect(account.get(url), 200) == []
