"""The server's notion of "now".

Lifecycle expiry and session lifetimes read time from here so that tests (and operators, through
`KOSHA_CLOCK_OFFSET`) can move it forward without waiting days.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

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
