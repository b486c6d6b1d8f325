"""The cache generation: one counter row, bumped in the same transaction as every change that
must clear the caches of other server processes (see kosha.services.generation)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, insert, select, update

from .schema import cache_generation as g

T = TypeVar("T")
ROW = 1


def bump(conn: Connection) -> None:
    """Move the counter (the migration made its row; a restored older database may lack it)."""
    if conn.execute(update(g).where(g.c.id == ROW).values(value=g.c.value + 1)).rowcount == 0:
        conn.execute(insert(g).values(id=ROW, value=1))


def current(conn: Connection) -> int:
    return int(conn.execute(select(g.c.value).where(g.c.id == ROW)).scalar() or 0)


def invalidating(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn(conn, ...)`, followed in its transaction by a bump of the counter."""
    @functools.wraps(fn)
    def run(conn: Connection, *args: Any) -> T:
        result = fn(conn, *args)
        bump(conn)
        return result
    return run
