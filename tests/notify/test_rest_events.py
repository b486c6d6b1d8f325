"""Events of KOS REST writes, and of lifecycle expiry, carry the same AWS shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from tests.notify.helpers import configure, wait_events
from tests.notify.receiver import Receiver

API = "/kos/v1"
REPO = Path(__file__).resolve().parents[2]


def upload(client: Any, bucket: str, key: str, data: bytes) -> None:
    answer = client.put(f"{API}/buckets/{bucket}/objects",
                        files=[("file", (key, data, "application/octet-stream"))])
    assert answer.status_code == 201, answer.text


def test_rest_upload_is_an_object_created_put(admin: Any, s3: Any, bucket: str,
                                              receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    upload(admin, bucket, "report.pdf", b"pdf!")
    [record] = wait_events(receiver, bucket, 1)
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "report.pdf"
    assert record["s3"]["object"]["size"] == 4
    assert record["userIdentity"]["principalId"] == admin.kcid
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert record["responseElements"]["x-amz-request-id"]


def test_rest_delete_copy_and_move(admin: Any, s3: Any, bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    upload(admin, bucket, "a", b"1")
    copy = admin.post(f"{API}/buckets/{bucket}/objects/move",
                      json={"sourceKey": "a", "destinationKey": "b", "action": "copy"})
    assert copy.status_code == 200, copy.text
    move = admin.post(f"{API}/buckets/{bucket}/objects/move",
                      json={"sourceKey": "b", "destinationKey": "c"})
    assert move.status_code == 200, move.text
    gone = admin.post(f"{API}/buckets/{bucket}/objects/delete", json={"objectkey": "c"})
    assert gone.status_code == 200, gone.text
    records = wait_events(receiver, bucket, 5)
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in records] == [
        ("ObjectCreated:Put", "a"), ("ObjectCreated:Copy", "b"), ("ObjectCreated:Copy", "c"),
        ("ObjectRemoved:Delete", "b"), ("ObjectRemoved:Delete", "c")]


def test_rest_and_s3_events_have_the_same_fields(admin: Any, s3: Any, bucket: str,
                                                 receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:ObjectCreated:*"])
    upload(admin, bucket, "via-rest", b"x")
    s3.put_object(Bucket=bucket, Key="via-s3", Body=b"x")
    rest, s3_event = wait_events(receiver, bucket, 2)

    def shape(value: Any) -> Any:
        return {k: shape(v) for k, v in value.items()} if isinstance(value, dict) else type(value)
    assert shape(rest) == shape(s3_event)


def test_lifecycle_expiry_sends_lifecycle_events(notify_server: Any, admin: Any, s3: Any,
                                                 bucket: str, receiver: Receiver) -> None:
    configure(s3, bucket, ["s3:LifecycleExpiration:*"])
    s3.put_object(Bucket=bucket, Key="old/one", Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    rule = admin.post(f"{API}/buckets/{bucket}/lifecycle-rules",
                      json={"name": "expire-old", "prefix": "old/", "expiration_days": 1})
    assert rule.status_code == 201, rule.text
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "KOSHA_NOTIFY_TARGETS": f"hook={receiver.url}?secret=s3cr3t"}
    run = subprocess.run([sys.executable, "-m", "kosha", "lifecycle", "run", "--data",
                          str(notify_server.data_dir), "--now", "2100-01-01T00:00:00Z"],
                         env=env, cwd=REPO, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    assert json.loads(run.stdout)["expired"] >= 1
    [record] = wait_events(receiver, bucket, 1)
    assert record["eventName"] == "LifecycleExpiration:Delete"
    assert record["s3"]["object"]["key"] == quote_plus("old/one")
    assert record["userIdentity"]["principalId"] == "kosha:lifecycle"
