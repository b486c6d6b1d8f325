"""Lease rows: one per kind of background work, taken and renewed by one atomic statement.

`INSERT ... ON CONFLICT DO UPDATE ... WHERE` is one statement on SQLite (3.35+, for RETURNING) and PostgreSQL
alike: it inserts a missing row, renews our own, or takes over an expired one, and otherwise
changes nothing, so two processes can never both hold a name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .schema import leases


def acquire(conn: Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take or renew lease `name` for `holder` until `now + ttl`; whether `holder` now holds it."""
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(leases).values(name=name, holder=holder, expires_at=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=or_(leases.c.holder == holder, leases.c.expires_at < now)).returning(leases.c.holder)
    return conn.execute(stmt).first() is not None  # a row only if inserted or updated


def release(conn: Connection, name: str, holder: str) -> None:
    """Let another process take `name` at once (a clean shutdown), if `holder` still has it."""
    conn.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder)
                 .values(expires_at=0.0))


def holder(conn: Connection, name: str, now: float) -> str | None:
    """Who holds `name` at `now`, if anyone."""
    row = conn.execute(select(leases.c.holder, leases.c.expires_at)
                       .where(leases.c.name == name)).first()
    return row.holder if row is not None and row.expires_at >= now else None
