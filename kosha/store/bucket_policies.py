"""SQL for bucket policies: one S3 address allow-list per bucket."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from ..errors import Conflict
from . import schema as s

bp = s.bucket_policies


def get(conn: Connection, bucket: str) -> Row[Any] | None:
    return conn.execute(select(bp).where(bp.c.bucket == bucket)).first()


def insert_policy(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    """Create the bucket's policy; 409 if it has one (checked here, inside the transaction)."""
    if get(conn, values["bucket"]) is not None:
        raise Conflict(f"bucket {values['bucket']!r} already has a bucket policy; modify it with PUT")
    conn.execute(insert(bp).values(**values))
    row = get(conn, values["bucket"])
    assert row is not None
    return row


def update_policy(conn: Connection, bucket: str, values: dict[str, Any]) -> Row[Any] | None:
    """Change the bucket's policy; None if it has none."""
    if get(conn, bucket) is None:
        return None
    conn.execute(update(bp).where(bp.c.bucket == bucket).values(**values))
    return get(conn, bucket)


def delete_policy(conn: Connection, bucket: str) -> bool:
    return conn.execute(delete(bp).where(bp.c.bucket == bucket)).rowcount > 0
