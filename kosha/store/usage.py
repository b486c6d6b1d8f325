"""Stored bytes and objects per bucket, as the bucket rows keep them (for /metrics)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from . import schema as s


def bucket_usage(conn: Connection, limit: int) -> list[tuple[str, int, int]]:
    """(name, used bytes, objects) of at most `limit` buckets, the largest first."""
    b = s.buckets
    rows = conn.execute(select(b.c.name, b.c.used_capacity, b.c.object_count)
                        .order_by(b.c.used_capacity.desc(), b.c.name).limit(limit))
    return [(row.name, int(row.used_capacity), int(row.object_count)) for row in rows]
