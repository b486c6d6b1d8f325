"""Shared by the notification tests: buckets, configurations and waiting for events."""

from __future__ import annotations

import uuid
from typing import Any

from tests.notify.receiver import Receiver

REGION = "In-Bangalore-1"
HOOK_ARN = f"arn:kosha:sqs:{REGION}:hook:webhook"


def bucket_name() -> str:
    return f"n-{uuid.uuid4().hex[:16]}"


def s3_for(server: Any, user: Any) -> Any:
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=server.s3_url, region_name=REGION,
                        aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def watched_bucket(server: Any) -> tuple[Any, str]:
    """A fresh admin's S3 client and a new bucket whose ObjectCreated events go to the hook."""
    root = server.operator()
    s3 = s3_for(server, server.new_user(root, server.new_account(root), admin=True))
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    configure(s3, name, ["s3:ObjectCreated:*"])
    return s3, name


def configure(s3: Any, bucket: str, events: list[str], arn: str = HOOK_ARN, **filters: str) -> None:
    rules = [{"Name": name, "Value": value} for name, value in filters.items()]
    config: dict[str, Any] = {"Id": "cfg-1", "QueueArn": arn, "Events": events}
    if rules:
        config["Filter"] = {"Key": {"FilterRules": rules}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [config]})


def events_of(receiver: Receiver, bucket: str) -> list[dict[str, Any]]:
    return [r for r in receiver.records() if r["s3"]["bucket"]["name"] == bucket]


def wait_events(receiver: Receiver, bucket: str, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    receiver.wait_for(lambda _r: len(events_of(receiver, bucket)) >= n, timeout)
    return events_of(receiver, bucket)
