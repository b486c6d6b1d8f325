"""Get/Put/DeleteBucketLifecycleConfiguration over the same rules as the KOS lifecycle API.

S3 rule ↔ KOS rule dict::

    ID                                   ↔ name
    Status Enabled/Disabled              ↔ enabled
    Filter/Prefix (or legacy Prefix)     ↔ prefix
    Expiration/Days                      ↔ expiration_days
    Expiration/ExpiredObjectDeleteMarker ↔ expired_obj_delete_marker
    NoncurrentVersionExpiration/NoncurrentDays, NewerNoncurrentVersions
                                         ↔ noncurrent_days, newer_noncurrent_versions
    AbortIncompleteMultipartUpload/DaysAfterInitiation ↔ delete_incomplete_mpu

What the rules cannot express (transitions, date-based expiry, tag and size filters) is
NotImplemented, not silently dropped.
"""

from __future__ import annotations

import inspect
import secrets
from datetime import UTC, datetime
from datetime import time as dt_time
from typing import Any

from ..errors import Invalid, NotFound, NotImplementedYet
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

MAX_RULES = 1000


def _not_impl(what: str) -> NotImplementedYet:
    return NotImplementedYet(f"Lifecycle {what} is not supported", s3_code="NotImplemented")


def _positive(node: Any, name: str, what: str) -> int | None:
    value = xml.int_text(node, name)
    if value is not None and value <= 0:
        raise Invalid(f"'{what}' for {name} must be a positive integer",
                      s3_code="InvalidArgument")
    return value


def parse_rules(body: bytes) -> list[dict[str, Any]]:
    root = xml.parse(body, root="LifecycleConfiguration")
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for node in xml.children(root, "Rule"):
        rid = (xml.text(node, "ID") or "").strip() or "rule-" + secrets.token_hex(8)
        if len(rid) > 255:
            raise Invalid("ID length should not exceed allowed limit of 255",
                          s3_code="InvalidArgument")
        if rid in seen:
            raise Invalid("Rule ID must be unique. Found same ID for more than one rule",
                          s3_code="InvalidArgument")
        seen.add(rid)
        status = xml.text(node, "Status")
        if status is None or status.strip() not in ("Enabled", "Disabled"):
            raise xml.malformed()
        prefix = _prefix(node)
        rule: dict[str, Any] = {
            "name": rid, "enabled": status.strip() == "Enabled", "prefix": prefix,
            "expiration_days": None, "expired_obj_delete_marker": None,
            "noncurrent_days": None, "newer_noncurrent_versions": None,
            "delete_incomplete_mpu": None,
        }
        exp = xml.child(node, "Expiration")
        # Validate what we then refuse, so that a wrong document is a 400 rather than a 501.
        for dated in ([exp] if exp is not None else []) + xml.children(node, "Transition"):
            _check_date(dated)
        if xml.child(node, "Transition") is not None or \
                xml.child(node, "NoncurrentVersionTransition") is not None:
            raise _not_impl("transitions")
        if exp is not None:
            if xml.child(exp, "Date") is not None:
                raise _not_impl("expiration by date")
            days = _positive(exp, "Days", "Days")
            marker = xml.bool_text(exp, "ExpiredObjectDeleteMarker")
            if days is None and marker is None:
                raise xml.malformed()
            if days is not None and marker is not None:
                raise xml.malformed()
            rule["expiration_days"] = days
            rule["expired_obj_delete_marker"] = marker
        nc = xml.child(node, "NoncurrentVersionExpiration")
        if nc is not None:
            rule["noncurrent_days"] = _positive(nc, "NoncurrentDays", "NoncurrentDays")
            rule["newer_noncurrent_versions"] = _positive(nc, "NewerNoncurrentVersions",
                                                          "NewerNoncurrentVersions")
            if rule["noncurrent_days"] is None:
                raise xml.malformed()
        abort = xml.child(node, "AbortIncompleteMultipartUpload")
        if abort is not None:
            days = _positive(abort, "DaysAfterInitiation", "DaysAfterInitiation")
            if days is None:
                raise xml.malformed()
            rule["delete_incomplete_mpu"] = days
        if exp is None and nc is None and abort is None:
            raise Invalid("At least one action needs to be specified in a rule",
                          s3_code="InvalidRequest")
        rules.append(rule)
    if not rules:
        raise xml.malformed()
    if len(rules) > MAX_RULES:
        raise Invalid(f"At most {MAX_RULES} lifecycle rules", s3_code="InvalidRequest")
    return rules


def _check_date(node: Any) -> None:
    """A rule's `Date`: ISO 8601, at midnight UTC (S3's rule), else 400 InvalidArgument."""
    raw = xml.text(node, "Date")
    if raw is None:
        return
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        when = None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when is None or when.utcoffset() is None or \
            (when.astimezone(UTC).time() != dt_time(0, 0)):
        raise Invalid("'Date' must be at midnight GMT", s3_code="InvalidArgument",
                      ArgumentName="Date", ArgumentValue=raw)


def _prefix(node: Any) -> str:
    legacy = xml.text(node, "Prefix")
    filt = xml.child(node, "Filter")
    if filt is None:
        return legacy or ""
    if legacy is not None:
        raise xml.malformed()
    if xml.child(filt, "Tag") is not None:
        raise _not_impl("tag filters")
    if xml.child(filt, "ObjectSizeGreaterThan") is not None or \
            xml.child(filt, "ObjectSizeLessThan") is not None:
        raise _not_impl("object size filters")
    and_node = xml.child(filt, "And")
    if and_node is not None:
        if xml.children(and_node, "Tag") or xml.child(and_node, "ObjectSizeGreaterThan") \
                is not None or xml.child(and_node, "ObjectSizeLessThan") is not None:
            raise _not_impl("tag and size filters")
        return xml.text(and_node, "Prefix") or ""
    return xml.text(filt, "Prefix") or ""


def _get(rule: Any, name: str) -> Any:
    if isinstance(rule, dict):
        return rule.get(name)
    return getattr(rule, name, None)


def document(rules: list[Any]) -> bytes:
    items = []
    for r in rules:
        parts = ["<Rule>", el("ID", _get(r, "name") or _get(r, "id") or ""),
                 f"<Filter>{el('Prefix', _get(r, 'prefix') or '')}</Filter>",
                 el("Status", "Enabled" if _get(r, "enabled") in (True, None) else "Disabled")]
        days, marker = _get(r, "expiration_days"), _get(r, "expired_obj_delete_marker")
        if days is not None or marker:
            inner = el("Days", days) if days is not None else ""
            if marker:
                inner += el("ExpiredObjectDeleteMarker", True)
            parts.append(f"<Expiration>{inner}</Expiration>")
        nc_days = _get(r, "noncurrent_days")
        if nc_days is not None:
            newer = _get(r, "newer_noncurrent_versions")
            parts.append("<NoncurrentVersionExpiration>" + el("NoncurrentDays", nc_days)
                         + (el("NewerNoncurrentVersions", newer) if newer else "")
                         + "</NoncurrentVersionExpiration>")
        mpu = _get(r, "delete_incomplete_mpu")
        if mpu is not None:
            parts.append("<AbortIncompleteMultipartUpload>" + el("DaysAfterInitiation", mpu)
                         + "</AbortIncompleteMultipartUpload>")
        parts.append("</Rule>")
        items.append("".join(parts))
    return xml.doc("LifecycleConfiguration", items)


async def _call(fn: Any, *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def get_bucket_lifecycle(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    rules = await _call(req.kosha.lifecycle.list_rules, req.principal, bucket.name)
    if isinstance(rules, tuple):
        rules = rules[0]
    if not rules:
        raise NotFound("The lifecycle configuration does not exist",
                       s3_code="NoSuchLifecycleConfiguration")
    resp = xml_response(document(list(rules)))
    resp.add("x-amz-transition-default-minimum-object-size", "all_storage_classes_128K")
    return resp


async def put_bucket_lifecycle(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    rules = parse_rules(await req.read_body(1024 * 1024))
    await _call(req.kosha.lifecycle.replace_rules, req.principal, bucket.name, rules)
    return empty_response(200)


async def delete_bucket_lifecycle(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    await _call(req.kosha.lifecycle.delete_rules, req.principal, bucket.name)
    return empty_response(204)
