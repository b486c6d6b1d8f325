"""A bucket's notification configuration: what it may hold, and which events it selects.

The canonical form (stored as the bucket's `notification` column, answered by the KOS REST
extension) is a list of configurations:

    {"id": "thumbs", "type": "queue"|"topic"|"function", "arn": "arn:kosha:sqs:...:id:kind",
     "events": ["s3:ObjectCreated:*"], "prefix": "photos/", "suffix": ".jpg"}

S3's XML (QueueConfiguration / TopicConfiguration / CloudFunctionConfiguration with Filter
S3Key FilterRule) maps onto it one to one (kosha/s3/notification.py). An ARN must name a target
the operator configured; an event must be one S3 defines. Kosha emits the ObjectCreated,
ObjectRemoved and LifecycleExpiration events; the other S3 event types are accepted (so a
configuration written for AWS is not refused) and never fire.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import Invalid

MAX_CONFIGURATIONS = 100
MAX_ID = 255
MAX_AFFIX_BYTES = 1024
TYPES = ("queue", "topic", "function")
EMITTED = frozenset({
    "s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated", "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
})
WILDCARDS = frozenset({"s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"})
ACCEPTED = EMITTED | WILDCARDS | frozenset({
    "s3:ReducedRedundancyLostObject", "s3:ObjectRestore:*", "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed", "s3:ObjectRestore:Delete", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold", "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition", "s3:IntelligentTiering", "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put",
})
DESTINATION_ERROR = "Unable to validate the destination configuration"


def _invalid(message: str, name: str | None = None, value: str | None = None) -> Invalid:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name is not None else {}
    return Invalid(message, s3_code="InvalidArgument", **extra)


def validate(configs: Any, known_arns: Iterable[str]) -> list[dict[str, Any]]:
    """Check a configuration list (canonical form) and answer it normalised; [] clears."""
    if not isinstance(configs, list):
        raise _invalid("the notification configuration must be a list of configurations")
    if len(configs) > MAX_CONFIGURATIONS:
        raise _invalid(f"at most {MAX_CONFIGURATIONS} notification configurations per bucket")
    arns = set(known_arns)
    seen: set[str] = set()
    out = []
    for config in configs:
        if not isinstance(config, Mapping):
            raise _invalid("each notification configuration must be an object")
        checked = _one(config, arns)
        if checked["id"] in seen:
            raise _invalid(f"configuration id {checked['id']!r} is used twice", "Id", checked["id"])
        seen.add(checked["id"])
        out.append(checked)
    return out


def _one(config: Mapping[str, Any], arns: set[str]) -> dict[str, Any]:
    config_id = config.get("id") or secrets.token_hex(16)
    if not isinstance(config_id, str) or len(config_id) > MAX_ID:
        raise _invalid(f"a configuration id is a string of at most {MAX_ID} characters")
    kind = config.get("type") or "queue"
    if kind not in TYPES:
        raise _invalid(f"configuration type must be one of {', '.join(TYPES)}")
    arn = config.get("arn")
    if not isinstance(arn, str) or arn not in arns:
        raise _invalid(DESTINATION_ERROR, str(arn), "ARN not found or not allowed")
    events = config.get("events")
    if not isinstance(events, list) or not events:
        raise _invalid("a configuration needs at least one event")
    for event in events:
        if not isinstance(event, str) or event not in ACCEPTED:
            raise _invalid("The event is not supported for notifications", "Event", str(event))
    out = {"id": config_id, "type": kind, "arn": arn, "events": list(dict.fromkeys(events))}
    for affix in ("prefix", "suffix"):
        value = config.get(affix) or ""
        if not isinstance(value, str) or len(value.encode()) > MAX_AFFIX_BYTES:
            raise _invalid(f"'{affix}' must be a string of at most {MAX_AFFIX_BYTES} bytes")
        out[affix] = value
    return out


def target_of(arn: str) -> str:
    """The target id an ARN names (`arn:kosha:sqs:<region>:<id>:<kind>`)."""
    parts = arn.split(":")
    return parts[4] if len(parts) >= 6 else ""


def selects(event: str, wanted: Iterable[str]) -> bool:
    """Does a configuration listing `wanted` select `event` (e.g. "ObjectCreated:Put")?"""
    category = event.partition(":")[0]
    for name in wanted:
        if name[3:] == event or name == f"s3:{category}:*":
            return True
    return False


def routes(configs: list[dict[str, Any]] | None, event: str, key: str,
           live_targets: Mapping[str, Any] | set[str]) -> list[list[str]]:
    """[[configuration id, target id], ...] of the configurations that select this event."""
    out: list[list[str]] = []
    for config in configs or ():
        if not selects(event, config["events"]):
            continue
        if not key.startswith(config["prefix"]) or not key.endswith(config["suffix"]):
            continue
        target = target_of(config["arn"])
        if target in live_targets:
            out.append([config["id"], target])
    return out
