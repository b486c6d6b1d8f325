"""Which failed transactions are worth running again: the ones another writer's timing caused.

PostgreSQL aborts one of two transactions that deadlock (40P01) or, at stricter isolation
levels, that cannot be serialised (40001); a lock that could not be had in time is 55P03. A
unique violation on a version's own constraints means another process committed the same key
first (before the key locks existed, or from a writer that does not take them): running the
unit again reads that commit and builds on it. A unit of work only touches the database, so
running it again is safe; the retries are few and spaced by a jittered backoff.
"""

from __future__ import annotations

import random
import time

from sqlalchemy.exc import DBAPIError

from ..errors import Unavailable

ATTEMPTS = 5
BACKOFF_SECONDS = 0.005
_TRANSIENT_STATES = {"40001", "40P01", "55P03"}
_RACE_CONSTRAINTS = {"uq_objects_version", "ix_objects_latest", "multipart_parts_pkey"}


def retryable(exc: BaseException | None) -> bool:
    """Whether `exc` (SQLAlchemy's, or the driver's own from a statement run on the DBAPI cursor,
    kosha.store.direct) says another transaction's timing made this one fail."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(driver, "sqlstate", None)
    if state in _TRANSIENT_STATES:
        return True
    if state == "23505":
        diag = getattr(driver, "diag", None)
        return getattr(diag, "constraint_name", None) in _RACE_CONSTRAINTS
    return False


def pause(attempt: int) -> None:
    """Sleep before attempt `attempt + 1`: up to 5, 10, 20, 40 ms, at random (no lockstep)."""
    time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** attempt))


def gave_up(exc: BaseException | None) -> Unavailable:
    """What the caller hears when every attempt lost its race: a 503 to retry, never a 500."""
    error = Unavailable("the object is being changed by many writers at once; retry")
    error.__cause__ = exc
    return error
