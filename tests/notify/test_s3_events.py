"""Events of S3 writes reach a webhook with the AWS message's fields (kosha/notify)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from tests.notify.helpers import HOOK_ARN, REGION, bucket_name, configure, events_of, wait_events
from tests.notify.receiver import Receiver


def test_put_object_event_has_the_aws_fields(s3: Any, bucket: str, admin: Any,
                                             receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    answer = s3.put_object(Bucket=bucket, Key="photos/a b+c.jpg", Body=b"hello")
    [record] = wait_events(receiver, bucket, 1)
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == 24
    assert record["userIdentity"]["principalId"] == admin.kcid
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert record["responseElements"]["x-amz-request-id"] == request_id
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == "cfg-1"
    assert s3_part["bucket"] == {"name": bucket, "ownerIdentity": {"principalId": admin.account_id},
                                 "arn": f"arn:aws:s3:::{bucket}"}
    obj = s3_part["object"]
    assert obj["key"] == quote_plus("photos/a b+c.jpg") == "photos%2Fa+b%2Bc.jpg"
    assert obj["size"] == 5
    assert obj["eTag"] == hashlib.md5(b"hello").hexdigest()
    assert len(obj["sequencer"]) == 16 and int(obj["sequencer"], 16) > 0
    assert "versionId" not in obj


def test_configuration_id_and_key_with_quotes_and_non_ascii_arrive_as_written(
        s3: Any, bucket: str, receiver: Receiver) -> None:
    config_id = 'thumbs "v2" \\ क'
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": config_id, "QueueArn": HOOK_ARN,
                                 "Events": ["s3:ObjectCreated:*"]}]})
    key = 'd/ü "q" \\ x'
    s3.put_object(Bucket=bucket, Key=key, Body=b"hi")
    [record] = wait_events(receiver, bucket, 1)
    assert record["s3"]["configurationId"] == config_id
    assert record["s3"]["object"]["key"] == quote_plus(key)
    assert record["s3"]["object"]["size"] == 2


def test_webhook_posts_carry_a_valid_hmac_signature(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:Put"])
    s3.put_object(Bucket=bucket, Key="signed", Body=b"x")
    wait_events(receiver, bucket, 1)
    index = next(i for i, e in enumerate(receiver.events)
                 if e["Records"][0]["s3"]["bucket"]["name"] == bucket)
    body, headers = receiver.raw[index], receiver.headers[index]
    expected = "sha256=" + hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
    assert headers["x-kosha-signature"] == expected
    assert headers["content-type"] == "application/json"


def test_copy_multipart_and_deletes_each_have_their_event(s3: Any, bucket: str,
                                                          receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.delete_object(Bucket=bucket, Key="src")
    records = wait_events(receiver, bucket, 4)
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Put", "src"), ("ObjectCreated:Copy", "dst"),
        ("ObjectCreated:CompleteMultipartUpload", "big"), ("ObjectRemoved:Delete", "src")]
    assert records[2]["s3"]["object"]["size"] == 10
    assert records[2]["s3"]["object"]["eTag"].endswith("-1")
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 4


def test_versioned_delete_writes_a_delete_marker_event(s3: Any, bucket: str,
                                                       receiver: Receiver) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    configure(s3, bucket, ["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"])
    put = s3.put_object(Bucket=bucket, Key="v", Body=b"1")
    marker = s3.delete_object(Bucket=bucket, Key="v")
    s3.delete_object(Bucket=bucket, Key="v", VersionId=put["VersionId"])
    records = wait_events(receiver, bucket, 3)
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated", "ObjectRemoved:Delete"]
    assert records[0]["s3"]["object"]["versionId"] == put["VersionId"]
    assert records[1]["s3"]["object"]["versionId"] == marker["VersionId"]
    assert records[2]["s3"]["object"]["versionId"] == put["VersionId"]


def test_post_object_event_is_post(s3: Any, bucket: str, receiver: Receiver) -> None:
    import httpx
    configure(s3, bucket, ["s3:ObjectCreated:Post"])
    form = s3.generate_presigned_post(Bucket=bucket, Key="posted.txt")
    answer = httpx.post(form["url"], data=form["fields"], files={"file": ("f", b"posted")})
    assert answer.status_code in (200, 204), answer.text
    [record] = wait_events(receiver, bucket, 1)
    assert record["eventName"] == "ObjectCreated:Post"
    assert record["s3"]["object"]["key"] == "posted.txt"


def test_prefix_and_suffix_filters_select_keys(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"], prefix="images/", suffix=".jpg")
    for key in ("images/a.jpg", "images/b.png", "docs/c.jpg", "images/sub/d.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="images/last.jpg", Body=b"x")
    wait_events(receiver, bucket, 3)
    assert [r["s3"]["object"]["key"] for r in events_of(receiver, bucket)] == [
        quote_plus("images/a.jpg"), quote_plus("images/sub/d.jpg"), quote_plus("images/last.jpg")]


def test_events_not_configured_are_not_sent(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectRemoved:*"])
    s3.put_object(Bucket=bucket, Key="quiet", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="quiet")
    [record] = wait_events(receiver, bucket, 1)
    assert record["eventName"] == "ObjectRemoved:Delete"


def test_a_write_refused_by_the_quota_sends_no_event(s3: Any, bucket: str, admin: Any,
                                                     receiver: Receiver) -> None:
    from botocore.exceptions import ClientError
    assert admin.put(f"/kos/v1/buckets/{bucket}", json={"allocatedCapacity": 10}).status_code == 200
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="too-big", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="fits", Body=b"x")
    [record] = wait_events(receiver, bucket, 1)
    assert record["s3"]["object"]["key"] == "fits"


def test_bucket_without_configuration_sends_nothing(s3: Any, bucket: str, receiver: Receiver) -> None:
    other = bucket_name()
    s3.create_bucket(Bucket=other)
    configure(s3, other, ["s3:ObjectCreated:*"])
    s3.put_object(Bucket=bucket, Key="silent", Body=b"x")
    s3.put_object(Bucket=other, Key="marker", Body=b"x")
    wait_events(receiver, other, 1)
    assert events_of(receiver, bucket) == []


def test_messages_are_one_record_json_objects(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    s3.put_object(Bucket=bucket, Key="one", Body=b"x")
    wait_events(receiver, bucket, 1)
    raw = next(b for b in receiver.raw if bucket.encode() in b)
    assert list(json.loads(raw)) == ["Records"] and len(json.loads(raw)["Records"]) == 1


def test_delete_objects_sends_one_event_per_key(s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectRemoved:*"])
    for key in ("x", "y"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}, {"Key": "y"},
                                                         {"Key": "never-existed"}]})
    records = wait_events(receiver, bucket, 2)
    assert sorted(r["s3"]["object"]["key"] for r in records) == ["x", "y"]
    assert {r["eventName"] for r in records} == {"ObjectRemoved:Delete"}
