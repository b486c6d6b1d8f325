"""The columns that hold secrets sealed with the master key, read and rewritten in batches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table, and_, select, update

from . import schema as s

# (table, primary key column, sealed column)
SEALED: tuple[tuple[Table, Column[Any], Column[Any]], ...] = (
    (s.access_keys, s.access_keys.c.access_key, s.access_keys.c.secret),
    (s.accounts, s.accounts.c.account_id, s.accounts.c.mfa_secret),
)


def sealed_batch(conn: Any, index: int, after: str, limit: int) -> list[tuple[str, str]]:
    """(id, sealed value) of up to `limit` rows of SEALED[index] with an id above `after`."""
    _table, pk, column = SEALED[index]
    rows = conn.execute(select(pk, column).where(and_(pk > after, column.is_not(None)))
                        .order_by(pk).limit(limit))
    return [(r[0], r[1]) for r in rows]


def reseal(conn: Any, index: int, changes: list[tuple[str, str, str]]) -> int:
    """Set each (id, old, new) whose value is still `old` (a concurrent change wins); count."""
    table, pk, column = SEALED[index]
    done = 0
    for row_id, old, new in changes:
        result = conn.execute(update(table).where(and_(pk == row_id, column == old)).values({column.name: new}))
        done += result.rowcount or 0
    return done
