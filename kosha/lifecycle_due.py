"""When a lifecycle rule acts on an item: the one definition the expiry worker and the preview share.

An item aged by a rule becomes due `days` whole days of 86,400 seconds after the moment its age
counts from (S3 rounds up to the next UTC midnight; Kosha does not). A worker run at `now` acts on
every item due strictly before `now`; the SQL selects those items as `since < cutoff(now, days)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any

DAY = 86400.0


def due_at(since: float, days: int) -> float:
    return since + days * DAY


def cutoff(now: float, days: int) -> float:
    """Items whose age counts from before this moment are due at `now`."""
    return now - days * DAY


def noncurrent_dues(versions: Sequence[Any], days: int, keep: int,
                    current_due: float | None = None) -> Iterator[tuple[Any, float]]:
    """Each noncurrent version the rule removes, and from when. `versions`: one key's, newest first.

    A version's noncurrent age counts from when the next newer version was written (as S3 does).
    The `keep` newest noncurrent versions stay; but once the current version expires
    (`current_due`, in a versioned bucket) it becomes the newest noncurrent one, and the oldest
    version kept until then goes from that moment.
    """
    index = 0
    for newer, row in pairwise(versions):
        if row.is_latest:
            continue
        index += 1
        when = due_at(newer.last_modified, days)
        if index > keep:
            yield row, when
        elif index == keep and current_due is not None:
            yield row, max(when, current_due)


def marker_due(versions: Sequence[Any], removed: Sequence[tuple[Any, float]]) -> float | None:
    """When a current delete marker is left alone, if ever: once every version under it is gone.

    `removed` is what `noncurrent_dues` answered for the same versions.
    """
    if not versions or not versions[0].is_latest or not versions[0].is_delete_marker:
        return None
    if len(removed) != len(versions) - 1:
        return None
    return max((when for _row, when in removed), default=versions[0].last_modified)


def matches(rule_filter: Mapping[str, Any] | None, size: int, tags: Mapping[str, str] | None) -> bool:
    """Whether a version passes a rule's filter beyond its prefix: every tag it names (same
    value), and the sizes (strictly greater than `size_gt`, strictly less than `size_lt`)."""
    if not rule_filter:
        return True
    above, below = rule_filter.get("size_gt"), rule_filter.get("size_lt")
    if (above is not None and not size > above) or (below is not None and not size < below):
        return False
    have = tags or {}
    return all(have.get(k) == v for k, v in (rule_filter.get("tags") or {}).items())
