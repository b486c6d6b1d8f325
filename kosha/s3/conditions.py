"""Conditional requests (RFC 7232 as S3 applies them) and Range parsing.

GET/HEAD: If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since answer
304. S3's combinations: If-Match true + If-Unmodified-Since false → 200; If-None-Match false +
If-Modified-Since true → 304. Copy sources use the `x-amz-copy-source-if-*` headers, where every
failure is 412. Times compare at one-second resolution (HTTP dates have no fractions).
"""

from __future__ import annotations

from email.utils import mktime_tz, parsedate_tz

from ..clock import http_date

from ..errors import NotModified, PreconditionFailed, RangeNotSatisfiable
from ..services.models import ObjectVersion


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch, or None when absent or unparseable (then the header is ignored)."""
    if not value:
        return None
    try:
        parsed = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    try:
        return float(mktime_tz(parsed))
    except (OverflowError, ValueError):
        return None


def etag_matches(etag: str, header: str) -> bool:
    """Does an If-Match / If-None-Match list (`*`, `"a", "b"`, `W/"a"`) include `etag`?"""
    header = header.strip()
    if header == "*":
        return True
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        if c.strip('"') == etag:
            return True
    return False


def _precondition_failed(condition: str) -> PreconditionFailed:
    return PreconditionFailed("At least one of the pre-conditions you specified did not hold",
                              s3_code="PreconditionFailed", Condition=condition)


def _not_modified() -> NotModified:
    return NotModified("Not Modified", s3_code="NotModified")


def evaluate_read(headers: dict[str, str], version: ObjectVersion) -> None:
    """Raise 412 / 304 for a GET or HEAD whose conditions do not hold for `version`."""
    if_match = headers.get("if-match")
    if_none_match = headers.get("if-none-match")
    if_modified = headers.get("if-modified-since")
    if_unmodified = headers.get("if-unmodified-since")
    if if_match is None and if_none_match is None and if_modified is None and if_unmodified is None:
        return
    etag = version.etag
    last_modified = int(version.last_modified)
    if if_match is not None:
        if not etag_matches(etag, if_match):
            raise _precondition_failed("If-Match")
    elif if_unmodified is not None:
        t = parse_http_date(if_unmodified)
        if t is not None and last_modified > t:
            raise _precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(etag, if_none_match):
            raise _not_modified()
    elif if_modified is not None:
        t = parse_http_date(if_modified)
        if t is not None and last_modified <= t:
            raise _not_modified()


def evaluate_copy_source(headers: dict[str, str], version: ObjectVersion) -> None:
    """`x-amz-copy-source-if-*`: every failure is 412 PreconditionFailed."""
    if_match = headers.get("x-amz-copy-source-if-match")
    if_none_match = headers.get("x-amz-copy-source-if-none-match")
    if_modified = headers.get("x-amz-copy-source-if-modified-since")
    if_unmodified = headers.get("x-amz-copy-source-if-unmodified-since")
    if if_match is None and if_none_match is None and if_modified is None and if_unmodified is None:
        return
    etag = version.etag
    last_modified = int(version.last_modified)
    if if_match is not None:
        if not etag_matches(etag, if_match):
            raise _precondition_failed("x-amz-copy-source-If-Match")
    elif if_unmodified is not None:
        t = parse_http_date(if_unmodified)
        if t is not None and last_modified > t:
            raise _precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(etag, if_none_match):
            raise _precondition_failed("x-amz-copy-source-If-None-Match")
    elif if_modified is not None:
        t = parse_http_date(if_modified)
        if t is not None and last_modified <= t:
            raise _precondition_failed("x-amz-copy-source-If-Modified-Since")


# --------------------------------------------------------------------------- ranges

def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A `Range: bytes=...` header → (start, end exclusive), or None to send the whole object.

    Syntax S3 does not serve (several ranges, other units, garbage) is ignored as RFC 7233 says;
    a well-formed range that starts past the end is 416 InvalidRange.
    """
    if header is None:
        return None
    h = header.strip()
    if not h.lower().startswith("bytes="):
        return None
    spec = h[6:].strip()
    if "," in spec:
        return None
    first, dash, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not dash:
        return None
    if first == "":
        if not last.isdigit():
            return None
        n = int(last)
        if n == 0:
            raise _unsatisfiable(size, header)
        return (max(size - n, 0), size) if size else _raise_unsatisfiable(size, header)
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    if last:
        end = int(last)
        if end < start:
            return None
        end = min(end + 1, size)
    else:
        end = size
    if start >= size:
        raise _unsatisfiable(size, header)
    return start, end


def _unsatisfiable(size: int, requested: str) -> RangeNotSatisfiable:
    return RangeNotSatisfiable("The requested range is not satisfiable", s3_code="InvalidRange",
                               ActualObjectSize=size, RangeRequested=requested)


def _raise_unsatisfiable(size: int, requested: str) -> tuple[int, int]:
    raise _unsatisfiable(size, requested)


def parse_copy_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`x-amz-copy-source-range: bytes=first-last` → inclusive (first, last); strict syntax."""
    from ..errors import Invalid
    if header is None:
        return None
    h = header.strip()
    ok = h.startswith("bytes=")
    first, dash, last = h[6:].partition("-") if ok else ("", "", "")
    if not (ok and dash and first.isdigit() and last.isdigit()) or int(last) < int(first):
        raise Invalid("The x-amz-copy-source-range value must be of the form bytes=first-last "
                      "where first and last are the zero-based offsets of the first and last "
                      "bytes to copy", s3_code="InvalidArgument")
    a, b = int(first), int(last)
    if b >= size:
        raise RangeNotSatisfiable("The requested range is not satisfiable",
                                  s3_code="InvalidRange", ActualObjectSize=size,
                                  RangeRequested=h)
    return a, b
