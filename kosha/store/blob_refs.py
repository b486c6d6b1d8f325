"""Reference counts of shared blobs: copies share a blob, the last reference frees it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, insert, select, update

from . import schema as s


def add(conn: Connection, blob_id: str, size: int, now: float) -> None:
    conn.execute(insert(s.blobs).values(blob_id=blob_id, size=size, refcount=1, created_at=now))


def incref(conn: Connection, blob_ids: Iterable[str]) -> None:
    for blob_id in blob_ids:
        conn.execute(update(s.blobs).where(s.blobs.c.blob_id == blob_id)
                     .values(refcount=s.blobs.c.refcount + 1))


def hold(conn: Connection, blob_id: str) -> bool:
    """One more reference to a blob that still has one; False if it was freed meanwhile (its
    last reference dropped since the caller read it), when the caller must not use it."""
    held = conn.execute(update(s.blobs).where(s.blobs.c.blob_id == blob_id, s.blobs.c.refcount > 0)
                        .values(refcount=s.blobs.c.refcount + 1))
    return held.rowcount == 1


def decref(conn: Connection, blob_ids: Iterable[str]) -> list[str]:
    """Drop one reference to each blob; answer the blobs nothing references any more."""
    freed = []
    for blob_id in blob_ids:
        conn.execute(update(s.blobs).where(s.blobs.c.blob_id == blob_id)
                     .values(refcount=s.blobs.c.refcount - 1))
        left = conn.execute(select(s.blobs.c.refcount).where(s.blobs.c.blob_id == blob_id)).scalar()
        if left is not None and left <= 0:
            conn.execute(delete(s.blobs).where(s.blobs.c.blob_id == blob_id))
            freed.append(blob_id)
    return freed


def known(conn: Connection, blob_ids: list[str]) -> set[str]:
    rows = conn.execute(select(s.blobs.c.blob_id).where(s.blobs.c.blob_id.in_(blob_ids)))
    return {r.blob_id for r in rows}
