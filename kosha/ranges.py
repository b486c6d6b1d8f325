"""HTTP byte ranges (`Range: bytes=...`), shared by the KOS download and S3 GET."""

from __future__ import annotations

from .errors import RangeNotSatisfiable


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
        if not _digits(last):
            return None
        n = int(last)
        if n == 0:
            raise _unsatisfiable(size, header)
        return (max(size - n, 0), size) if size else _raise_unsatisfiable(size, header)
    if not _digits(first) or (last and not _digits(last)):
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


def _digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit()` alone accepts "²" and "١", which `int()` refuses or reads."""
    return text.isascii() and text.isdigit()


def _unsatisfiable(size: int, requested: str) -> RangeNotSatisfiable:
    return RangeNotSatisfiable("The requested range is not satisfiable", s3_code="InvalidRange",
                               ActualObjectSize=size, RangeRequested=requested)


def _raise_unsatisfiable(size: int, requested: str) -> tuple[int, int]:
    raise _unsatisfiable(size, requested)
