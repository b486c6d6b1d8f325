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
    Filter Tag/And/ObjectSize* (and its form)    ↔ filter
    Expiration/Date                      ↔ expiration_date
    Transition, NoncurrentVersionTransition ↔ transitions, noncurrent_transitions

(services.lifecycle_s3). A rule reads back as it was written: the filter in the form it was put.
"""

from __future__ import annotations

import inspect
import secrets
from datetime import UTC, datetime
from datetime import time as dt_time
from typing import Any

from ..errors import Invalid, NotFound
from ..services.models import STORAGE_CLASSES
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

MAX_RULES = 1000


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
        prefix, rule_filter = _filter(node)
        rule: dict[str, Any] = {
            "name": rid, "enabled": status.strip() == "Enabled", "prefix": prefix,
            "expiration_days": None, "expired_obj_delete_marker": None,
            "noncurrent_days": None, "newer_noncurrent_versions": None,
            "delete_incomplete_mpu": None, "filter": rule_filter,
            "transitions": _transitions(node), "noncurrent_transitions": _noncurrent_transitions(node),
        }
        exp = xml.child(node, "Expiration")
        if exp is not None:
            days = _positive(exp, "Days", "Days")
            date = _date(exp)
            marker = xml.bool_text(exp, "ExpiredObjectDeleteMarker")
            if sum(v is not None for v in (days, date, marker)) != 1:
                raise xml.malformed()
            rule["expiration_days"] = days
            rule["expiration_date"] = date
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
        if exp is None and nc is None and abort is None and not rule["transitions"] \
                and not rule["noncurrent_transitions"]:
            raise Invalid("At least one action needs to be specified in a rule",
                          s3_code="InvalidRequest")
        rules.append(rule)
    if not rules:
        raise xml.malformed()
    if len(rules) > MAX_RULES:
        raise Invalid(f"At most {MAX_RULES} lifecycle rules", s3_code="InvalidRequest")
    return rules


def _date(node: Any) -> float | None:
    """A `Date`: ISO 8601, at midnight UTC (S3's rule), else 400 InvalidArgument."""
    raw = xml.text(node, "Date")
    if raw is None:
        return None
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
    return when.timestamp()


def _storage_class(node: Any) -> str:
    value = (xml.text(node, "StorageClass") or "").strip()
    if value not in STORAGE_CLASSES:
        raise Invalid("The storage class you specified is not valid",
                      s3_code="InvalidStorageClass")
    return value


def _transitions(node: Any) -> list[dict[str, Any]]:
    steps = []
    for item in xml.children(node, "Transition"):
        days, date = xml.int_text(item, "Days"), _date(item)
        if (days is None) == (date is None) or (days is not None and days < 0):
            raise xml.malformed()
        steps.append({"days": days, "storage_class": _storage_class(item)} if days is not None
                     else {"date": date, "storage_class": _storage_class(item)})
    return steps


def _noncurrent_transitions(node: Any) -> list[dict[str, Any]]:
    steps = []
    for item in xml.children(node, "NoncurrentVersionTransition"):
        days = xml.int_text(item, "NoncurrentDays")
        if days is None or days < 0:
            raise xml.malformed()
        step = {"noncurrent_days": days, "storage_class": _storage_class(item)}
        newer = _positive(item, "NewerNoncurrentVersions", "NewerNoncurrentVersions")
        if newer is not None:
            step["newer_noncurrent_versions"] = newer
        steps.append(step)
    return steps


def _filter(node: Any) -> tuple[str, dict[str, Any]]:
    """The rule's prefix, and its filter: the tags and sizes it adds and the form it took."""
    legacy = xml.text(node, "Prefix")
    filt = xml.child(node, "Filter")
    if filt is None:
        return legacy or "", {"form": "legacy" if legacy is not None else "empty"}
    if legacy is not None:
        raise xml.malformed()
    and_node = xml.child(filt, "And")
    conditions = [name for name in ("Prefix", "Tag", "And", "ObjectSizeGreaterThan",
                                    "ObjectSizeLessThan") if xml.child(filt, name) is not None]
    if len(conditions) > 1 or len(xml.children(filt, "Tag")) > 1:
        raise xml.malformed()
    scope = and_node if and_node is not None else filt
    tags = {}
    for tag in xml.children(scope, "Tag"):
        key, value = xml.text(tag, "Key"), xml.text(tag, "Value")
        if key is None or value is None or key in tags:
            raise Invalid("Duplicate Tag Keys are not allowed.", s3_code="InvalidRequest") \
                if key in tags else xml.malformed()
        tags[key] = value
    form = {"Prefix": "prefix", "Tag": "tag", "And": "and"}.get(conditions[0], "size") \
        if conditions else "empty"
    rule_filter: dict[str, Any] = {"form": form}
    if tags:
        rule_filter["tags"] = tags
    for element, name in (("ObjectSizeGreaterThan", "size_gt"), ("ObjectSizeLessThan", "size_lt")):
        value = xml.int_text(scope, element)
        if value is not None:
            rule_filter[name] = value
    return xml.text(scope, "Prefix") or "", rule_filter


def _get(rule: Any, name: str) -> Any:
    if isinstance(rule, dict):
        return rule.get(name)
    return getattr(rule, name, None)


def _filter_xml(prefix: str, rule_filter: dict[str, Any] | None) -> str:
    rule_filter = rule_filter or {}
    form = rule_filter.get("form") or "prefix"
    if form == "legacy":
        return el("Prefix", prefix)
    tags = "".join(f"<Tag>{el('Key', k)}{el('Value', v)}</Tag>"
                   for k, v in (rule_filter.get("tags") or {}).items())
    sizes = "".join(el(element, rule_filter[name]) for element, name in (
        ("ObjectSizeGreaterThan", "size_gt"), ("ObjectSizeLessThan", "size_lt"))
        if rule_filter.get(name) is not None)
    if form == "and":
        inner = f"<And>{el('Prefix', prefix) if prefix else ''}{tags}{sizes}</And>"
    elif form == "empty" and not prefix:
        inner = ""
    elif form in ("tag", "size"):
        inner = tags + sizes
    else:
        inner = el("Prefix", prefix)
    return f"<Filter>{inner}</Filter>"


def _date_xml(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _rule_xml(r: Any) -> str:
    parts = ["<Rule>", el("ID", _get(r, "name") or _get(r, "id") or ""),
             _filter_xml(_get(r, "prefix") or "", _get(r, "filter")),
             el("Status", "Enabled" if _get(r, "enabled") in (True, None) else "Disabled")]
    days, marker, date = (_get(r, "expiration_days"), _get(r, "expired_obj_delete_marker"),
                          _get(r, "expiration_date"))
    if days is not None or marker or date is not None:
        inner = el("Days", days) if days is not None else ""
        inner += el("Date", _date_xml(date)) if date is not None else ""
        inner += el("ExpiredObjectDeleteMarker", True) if marker else ""
        parts.append(f"<Expiration>{inner}</Expiration>")
    for step in _get(r, "transitions") or []:
        when = el("Days", step["days"]) if step.get("days") is not None \
            else el("Date", _date_xml(step["date"]))
        parts.append(f"<Transition>{when}{el('StorageClass', step['storage_class'])}</Transition>")
    for step in _get(r, "noncurrent_transitions") or []:
        newer = step.get("newer_noncurrent_versions")
        parts.append("<NoncurrentVersionTransition>" + el("NoncurrentDays", step["noncurrent_days"])
                     + (el("NewerNoncurrentVersions", newer) if newer else "")
                     + el("StorageClass", step["storage_class"]) + "</NoncurrentVersionTransition>")
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
    return "".join(parts)


def document(rules: list[Any]) -> bytes:
    return xml.doc("LifecycleConfiguration", [_rule_xml(r) for r in rules])


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
