"""Conditional requests (RFC 7232 as S3 applies them) and Range parsing.

GET/HEAD: If-Match / If-Unmodified-Since fail with 412; If-None-Match / If-Modified-Since answer
304. S3's combinations: If-Match true + If-Unmodified-Since false → 200; If-None-Match false +
If-Modified-Since true → 304. Copy sources use the `x-amz-copy-source-if-*` headers, where every
failure is 412. Times compare at one-second resolution (HTTP dates have no fractions).
"""

from __future__ import annotations

from email.utils import mktime_tz, parsedate_tz


from ..errors import Invalid, KoshaError, NotModified, PreconditionFailed, RangeNotSatisfiable
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
    _evaluate(headers, version, copy_source=False)


def evaluate_copy_source(headers: dict[str, str], version: ObjectVersion) -> None:
    """`x-amz-copy-source-if-*`: every failure is 412 PreconditionFailed."""
    _evaluate(headers, version, copy_source=True)


def _evaluate(headers: dict[str, str], version: ObjectVersion, copy_source: bool) -> None:
    """RFC 7232's order: If-Match, else If-Unmodified-Since; then If-None-Match, else
    If-Modified-Since. A read answers 304 where a copy answers 412."""
    prefix = "x-amz-copy-source-" if copy_source else ""
    if_match = headers.get(prefix + "if-match")
    if_none_match = headers.get(prefix + "if-none-match")
    if_modified = headers.get(prefix + "if-modified-since")
    if_unmodified = headers.get(prefix + "if-unmodified-since")
    if if_match is None and if_none_match is None and if_modified is None and if_unmodified is None:
        return

    def not_modified(condition: str) -> KoshaError:
        return _precondition_failed(prefix + condition) if copy_source else _not_modified()

    etag = version.etag
    last_modified = int(version.last_modified)
    if if_match is not None:
        if not etag_matches(etag, if_match):
            raise _precondition_failed(prefix + "If-Match")
    elif if_unmodified is not None:
        t = parse_http_date(if_unmodified)
        if t is not None and last_modified > t:
            raise _precondition_failed(prefix + "If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(etag, if_none_match):
            raise not_modified("If-None-Match")
    elif if_modified is not None:
        t = parse_http_date(if_modified)
        if t is not None and last_modified <= t:
            raise not_modified("If-Modified-Since")


# --------------------------------------------------------------------------- ranges

def parse_copy_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`x-amz-copy-source-range: bytes=first-last` → inclusive (first, last); strict syntax."""
    if header is None:
        return None
    h = header.strip()
    ok = h.startswith("bytes=")
    first, dash, last = h[6:].partition("-") if ok else ("", "", "")
    if not (ok and dash and h.isascii() and first.isdigit() and last.isdigit()) or int(last) < int(first):
        raise Invalid("The x-amz-copy-source-range value must be of the form bytes=first-last "
                      "where first and last are the zero-based offsets of the first and last "
                      "bytes to copy", s3_code="InvalidArgument")
    a, b = int(first), int(last)
    if b >= size:
        raise RangeNotSatisfiable("The requested range is not satisfiable",
                                  s3_code="InvalidRange", ActualObjectSize=size,
                                  RangeRequested=h)
    return a, b
