"""Bucket lifecycle configurations with S3's filters, date expirations and transitions, read back
exactly as they were put (boto3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

MIDNIGHT = datetime(2031, 1, 1, tzinfo=UTC)

RULES: list[dict[str, Any]] = [
    {"ID": "by-prefix", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
     "Expiration": {"Days": 30}},
    {"ID": "by-tag", "Filter": {"Tag": {"Key": "tier", "Value": "tmp"}}, "Status": "Enabled",
     "Expiration": {"Date": MIDNIGHT}},
    {"ID": "by-and", "Filter": {"And": {"Prefix": "data/", "Tags": [{"Key": "a", "Value": "1"}],
                                        "ObjectSizeGreaterThan": 1024}},
     "Status": "Disabled", "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"},
                                           {"Days": 90, "StorageClass": "GLACIER"}]},
    {"ID": "by-size", "Filter": {"ObjectSizeGreaterThan": 500}, "Status": "Enabled",
     "NoncurrentVersionTransitions": [{"NoncurrentDays": 7, "StorageClass": "GLACIER",
                                       "NewerNoncurrentVersions": 2}],
     "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    {"ID": "dated-transition", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "Transitions": [{"Date": MIDNIGHT, "StorageClass": "DEEP_ARCHIVE"}],
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
]


def put(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> Any:
    return s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                                 LifecycleConfiguration={"Rules": rules})


def test_every_filter_form_date_and_transition_reads_back_as_put(s3: Any, bucket: str) -> None:
    put(s3, bucket, RULES)
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == RULES


def test_a_legacy_rule_prefix_reads_back_at_rule_level(s3: Any, bucket: str) -> None:
    legacy = [{"ID": "old", "Prefix": "tmp/", "Status": "Enabled", "Expiration": {"Days": 1}}]
    put(s3, bucket, legacy)
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == legacy


def code(call: Any) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return str(err.value.response["Error"]["Code"])


def test_an_unknown_storage_class_is_invalid_storage_class(s3: Any, bucket: str) -> None:
    rules = [{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
              "Transitions": [{"Days": 1, "StorageClass": "COLD"}]}]
    assert code(lambda: put(s3, bucket, rules)) in ("InvalidStorageClass", "MalformedXML")


def test_a_date_that_is_not_midnight_is_invalid_argument(s3: Any, bucket: str) -> None:
    rules = [{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled",
              "Expiration": {"Date": datetime(2031, 1, 1, 12, tzinfo=UTC)}}]
    assert code(lambda: put(s3, bucket, rules)) == "InvalidArgument"


def test_the_kos_rule_shows_the_s3_additions(s3: Any, bucket: str, s3_user: Any) -> None:
    put(s3, bucket, RULES[1:2])
    rules = s3_user.get(f"/kos/v1/buckets/{bucket}/lifecycle-rules").json()
    rule = rules[0] if isinstance(rules, list) else rules["rules"][0]
    assert rule["filter"] == {"form": "tag", "tags": {"tier": "tmp"}}
    assert rule["expiration_date"] == MIDNIGHT.timestamp()


def test_an_object_matching_a_tag_rule_announces_its_expiry(s3: Any, bucket: str) -> None:
    put(s3, bucket, [{"ID": "tmp", "Filter": {"Tag": {"Key": "tier", "Value": "tmp"}},
                      "Status": "Enabled", "Expiration": {"Days": 3}}])
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="tier=tmp")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert 'rule-id="tmp"' in s3.head_object(Bucket=bucket, Key="tagged")["Expiration"]
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="plain")
