"""What S3's lifecycle configuration adds to a KOS rule, checked and answered.

- `filter`: `{"form", "tags", "size_gt", "size_lt"}`; `form` is the shape the rule's filter was
  written in (`legacy` rule-level Prefix, `prefix`, `tag`, `size`, `and`, `empty`), so that
  GetBucketLifecycleConfiguration answers the document that was put.
- `expiration_date`: expire every current version once this moment (midnight UTC) has passed.
- `transitions`: `[{"days" or "date", "storage_class"}]` for current versions, and
  `noncurrent_transitions`: `[{"noncurrent_days", "newer_noncurrent_versions", "storage_class"}]`:
  a transition changes the version's storage class; every class is stored alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Invalid
from .models import STORAGE_CLASSES

S3_FIELDS = ("filter", "expiration_date", "transitions", "noncurrent_transitions")
FILTER_FORMS = ("legacy", "prefix", "tag", "size", "and", "empty")
MAX_TAGS = 50


def s3_fields_json(row: Any) -> dict[str, Any]:
    """The fields a rule has (absent when unset: the published schema has none of them)."""
    return {name: getattr(row, name) for name in S3_FIELDS if getattr(row, name, None)
            is not None and getattr(row, name) != []}


def check_s3_fields(rule: Mapping[str, Any]) -> None:
    _check_filter(rule.get("filter"))
    date = rule.get("expiration_date")
    if date is not None and (isinstance(date, bool) or not isinstance(date, (int, float))):
        raise Invalid("'expiration_date' must be a number of seconds since the epoch")
    if date is not None and rule.get("expiration_days") is not None:
        raise Invalid("a rule expires by 'expiration_days' or by 'expiration_date', not both")
    for step in _steps(rule, "transitions"):
        _storage_class(step)
        if (step.get("days") is None) == (step.get("date") is None):
            raise Invalid("each transition needs exactly one of 'days' and 'date'")
        _non_negative(step, "days")
    for step in _steps(rule, "noncurrent_transitions"):
        _storage_class(step)
        if step.get("noncurrent_days") is None:
            raise Invalid("each noncurrent transition needs 'noncurrent_days'")
        _non_negative(step, "noncurrent_days")
        _non_negative(step, "newer_noncurrent_versions")
    tags = (rule.get("filter") or {}).get("tags")
    if tags and (rule.get("expired_obj_delete_marker") or rule.get("delete_incomplete_mpu")):
        raise Invalid("a rule with a tag filter cannot remove delete markers or abort uploads",
                      s3_code="InvalidRequest")


def _check_filter(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not set(value) <= {"form", "tags", "size_gt", "size_lt"}:
        raise Invalid("'filter' must be an object of form, tags, size_gt and size_lt")
    if value.get("form") not in (None, *FILTER_FORMS):
        raise Invalid(f"'filter.form' must be one of {', '.join(FILTER_FORMS)}")
    tags = value.get("tags") or {}
    if not isinstance(tags, dict) or len(tags) > MAX_TAGS or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise Invalid(f"'filter.tags' must map up to {MAX_TAGS} tag keys to string values")
    _non_negative(value, "size_gt")
    _non_negative(value, "size_lt")
    above, below = value.get("size_gt"), value.get("size_lt")
    if above is not None and below is not None and not above < below:
        raise Invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
                      s3_code="InvalidArgument")


def _steps(rule: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    steps = rule.get(name) or []
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise Invalid(f"'{name}' must be a list of objects")
    return steps


def _storage_class(step: Mapping[str, Any]) -> None:
    if step.get("storage_class") not in STORAGE_CLASSES:
        raise Invalid(f"'storage_class' must be one of {', '.join(sorted(STORAGE_CLASSES))}",
                      s3_code="InvalidStorageClass")


def _non_negative(values: Mapping[str, Any], name: str) -> None:
    value = values.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise Invalid(f"'{name}' must be a non-negative integer")
