"""Failed-activation counters shared by every server process: one row per limited subject (a key
and address pair, a key, an address), counting failures in a fixed window.

`add` is one upsert per subject, atomic on SQLite and PostgreSQL alike: a row whose window has
passed starts again at 1, otherwise its count goes up by one, whichever process fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from .schema import activation_failures as f


def counts(conn: Connection, subjects: Sequence[str], window_after: float) -> dict[str, tuple[int, float]]:
    """(count, window start) of each subject whose window started after `window_after`."""
    rows = conn.execute(select(f.c.key, f.c.count, f.c.window_start)
                        .where(f.c.key.in_(subjects), f.c.window_start > window_after))
    return {key: (count, start) for key, count, start in rows}


def add(conn: Connection, subjects: Sequence[str], now: float, window: float) -> None:
    """Count one failure for each subject."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    expired = f.c.window_start <= now - window
    for subject in subjects:
        stmt = dialect.insert(f).values(key=subject, window_start=now, count=1)
        conn.execute(stmt.on_conflict_do_update(index_elements=[f.c.key], set_={
            "count": case((expired, 1), else_=f.c.count + 1),
            "window_start": case((expired, now), else_=f.c.window_start)}))


def forget(conn: Connection, subject: str) -> None:
    conn.execute(delete(f).where(f.c.key == subject))


def prune(conn: Connection, before: float) -> int:
    """Drop the rows whose window started before `before` (they count nothing any more)."""
    return conn.execute(delete(f).where(f.c.window_start < before)).rowcount
