"""Storage faults as domain errors, so every API names the cause instead of answering 500.

A full disk or quota is `InsufficientStorage` (507: the client must free space); a read-only or
vanished data directory, a locked database or one that cannot be reached is `Unavailable` (503
with Retry-After: the fault may go by itself, and the server recovers when it does). Anything
else is left as it is: it is a bug, and answers 500.
"""

from __future__ import annotations

import errno
from pathlib import Path

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..errors import InsufficientStorage, KoshaError, Unavailable

_FULL = {errno.ENOSPC, errno.EDQUOT}
_GONE = {errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM, errno.ESTALE}


def disk_full(detail: str) -> InsufficientStorage:
    return InsufficientStorage(f"the storage is full ({detail}): nothing was stored; delete "
                               "objects or add space, then retry")


def from_os_error(exc: OSError, root: Path) -> KoshaError | None:
    """The domain error for a failed file operation under `root`, or None for a plain bug."""
    if exc.errno in _FULL:
        return disk_full(exc.strerror or "no space left")
    if exc.errno == errno.EROFS:
        return Unavailable("the data directory is read-only; retry later")
    if exc.errno in _GONE or (exc.errno == errno.ENOENT and not root.is_dir()):
        return Unavailable(f"the data directory cannot be used ({exc.strerror}); retry later")
    return None


_SQLITE_FULL = ("database or disk is full", "disk quota", "no space left")
_SQLITE_TRANSIENT = ("locked", "busy", "readonly database", "unable to open", "disk i/o error")
_PG_FULL = ("could not extend file", "no space left on device", "disk full")


def from_db_error(exc: BaseException) -> KoshaError | None:
    """The domain error for a failed database operation, or None for a plain bug."""
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig).lower()
    if any(s in text for s in _SQLITE_FULL + _PG_FULL) or getattr(exc.orig, "sqlstate", None) == "53100":
        return disk_full("the metadata database cannot grow")
    if type(exc.orig).__module__.startswith("sqlite3"):
        if not any(s in text for s in _SQLITE_TRANSIENT):
            return None   # "no such table" and the like are bugs, not faults to wait out
    if isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated:
        return Unavailable(f"the metadata database is unavailable ({_first_line(text)}); retry later")
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no detail"
