"""The server's notion of "now".

Lifecycle expiry and session lifetimes read time from here so that tests (and operators, through
`KOSHA_CLOCK_OFFSET`) can move it forward without waiting days.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from functools import lru_cache

_offset = float(os.environ.get("KOSHA_CLOCK_OFFSET", "0") or 0)


def set_offset(seconds: float) -> None:
    global _offset
    _offset = seconds


def now() -> float:
    """Seconds since the epoch."""
    return time.time() + _offset


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), tz=timezone.utc)


def iso(ts: float | None) -> str | None:
    """ISO 8601 with milliseconds and `Z`, as the live service answers."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(ts: float) -> str:
    """RFC 7231 date (`Last-Modified`), without email.utils' slower, general formatting; the
    text of each second is remembered (a small GET answers the same few objects' dates)."""
    return _http_date(ts // 1)


@lru_cache(maxsize=4096)
def _http_date(ts: float) -> str:
    t = time.gmtime(ts)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")
