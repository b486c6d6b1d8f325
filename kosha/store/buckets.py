"""SQL for buckets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from . import blob_refs
from . import schema as s


def get(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(s.buckets).where(s.buckets.c.name == name)).first()


def insert_bucket(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    conn.execute(insert(s.buckets).values(**values))
    row = get(conn, values["name"])
    assert row is not None
    return row


def list_for_account(conn: Connection, account_id: str, name_filter: str | None, offset: int,
                     limit: int | None) -> tuple[list[Row[Any]], int]:
    where = [s.buckets.c.account_id == account_id]
    if name_filter:
        escaped = name_filter.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(s.buckets.c.name.like(f"%{escaped}%", escape="\\"))
    total = conn.execute(select(func.count()).select_from(s.buckets).where(*where)).scalar_one()
    query = select(s.buckets).where(*where).order_by(s.buckets.c.created_at, s.buckets.c.name)
    if limit is not None:
        query = query.offset(offset).limit(limit)
    return list(conn.execute(query).all()), total


def update_bucket(conn: Connection, name: str, values: dict[str, Any]) -> Row[Any] | None:
    if values:
        conn.execute(update(s.buckets).where(s.buckets.c.name == name).values(**values))
    return get(conn, name)


def lock(conn: Connection, name: str) -> bool:
    """Hold the bucket's row until the transaction ends: object commits in other processes
    (which hold it FOR KEY SHARE) finish first, and later ones wait and then find it gone.
    False if the bucket is already gone."""
    return conn.execute(select(s.buckets.c.name).where(s.buckets.c.name == name)
                        .with_for_update()).first() is not None


def is_empty(conn: Connection, name: str) -> bool:
    has_object = conn.execute(select(s.objects.c.seq).where(s.objects.c.bucket == name).limit(1)).first()
    return has_object is None


def delete_bucket(conn: Connection, name: str) -> list[str]:
    """Remove an empty bucket and what hangs off it; answers the blobs that are now garbage."""
    uploads = select(s.multipart_uploads.c.upload_id).where(s.multipart_uploads.c.bucket == name)
    part_blobs = blob_refs.decref(conn, [r.blob_id for r in conn.execute(
        select(s.multipart_parts.c.blob_id).where(s.multipart_parts.c.upload_id.in_(uploads)))])
    conn.execute(delete(s.multipart_parts).where(s.multipart_parts.c.upload_id.in_(uploads)))
    conn.execute(delete(s.multipart_uploads).where(s.multipart_uploads.c.bucket == name))
    conn.execute(delete(s.lifecycle_rules).where(s.lifecycle_rules.c.bucket == name))
    conn.execute(delete(s.bucket_policies).where(s.bucket_policies.c.bucket == name))
    conn.execute(delete(s.buckets).where(s.buckets.c.name == name))
    return part_blobs
