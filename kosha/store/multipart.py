"""SQL for multipart uploads and their parts.

Writers of one upload (a part, the completion, the abort) lock its row first (FOR UPDATE on
PostgreSQL; SQLite's writer holds the whole database), so with several processes a part is
never recorded into an upload that another process is completing or aborting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select

from ..errors import NotFound
from . import blob_refs
from . import schema as s

u, p = s.multipart_uploads, s.multipart_parts


def get_upload(conn: Connection, bucket: str, key: str, upload_id: str, lock: bool = False) -> Row[Any]:
    query = select(u).where(u.c.upload_id == upload_id, u.c.bucket == bucket, u.c.key == key)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("the specified multipart upload does not exist", s3_code="NoSuchUpload")
    return row


def find_upload(conn: Connection, bucket: str, upload_id: str) -> Row[Any] | None:
    """An upload by its id alone (the KOS REST routes name an upload without its key)."""
    return conn.execute(select(u).where(u.c.upload_id == upload_id, u.c.bucket == bucket)).first()


def create_upload(conn: Connection, values: dict[str, Any]) -> None:
    held = conn.execute(select(s.buckets.c.name).where(s.buckets.c.name == values["bucket"])
                        .with_for_update(read=True, key_share=True)).first()
    if held is None:   # deleted by another process since the caller looked it up
        raise NotFound("bucket not found", s3_code="NoSuchBucket")
    conn.execute(insert(u).values(**values))


def put_part(conn: Connection, bucket: str, key: str, upload_id: str, part: dict[str, Any],
             now: float, new_blob: bool) -> list[str]:
    """Record a part (replacing one of the same number); answer blobs now garbage.

    A part that shares a source object's blob (UploadPartCopy) takes its reference here, in the
    transaction that records it: a delete of the source that freed the blob since it was read
    makes this NoSuchKey rather than a part whose bytes are gone.
    """
    get_upload(conn, bucket, key, upload_id, lock=True)
    if new_blob:
        blob_refs.add(conn, part["blob_id"], part["size"], now)
    elif not blob_refs.hold(conn, part["blob_id"]):
        raise NotFound("the specified key does not exist", s3_code="NoSuchKey")
    old = conn.execute(select(p).where(p.c.upload_id == upload_id,
                                       p.c.part_number == part["part_number"])).first()
    freed: list[str] = []
    if old is not None:
        conn.execute(delete(p).where(p.c.upload_id == upload_id, p.c.part_number == part["part_number"]))
        freed = blob_refs.decref(conn, [old.blob_id])
    conn.execute(insert(p).values(upload_id=upload_id, last_modified=now, **part))
    return freed


def parts(conn: Connection, upload_id: str, after: int = 0, limit: int | None = None) -> list[Row[Any]]:
    query = select(p).where(p.c.upload_id == upload_id, p.c.part_number > after).order_by(p.c.part_number)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).all())


def finish_upload(conn: Connection, upload_id: str, keep: set[int]) -> list[str]:
    """Drop an upload's rows; parts not in `keep` lose their blob reference. Answers garbage."""
    conn.execute(select(u.c.upload_id).where(u.c.upload_id == upload_id).with_for_update()).first()
    dropped = [r.blob_id for r in conn.execute(select(p).where(p.c.upload_id == upload_id))
               if r.part_number not in keep]
    conn.execute(delete(p).where(p.c.upload_id == upload_id))
    conn.execute(delete(u).where(u.c.upload_id == upload_id))
    return blob_refs.decref(conn, dropped)


def list_uploads(conn: Connection, bucket: str, prefix: str, key_marker: str | None,
                 upload_id_marker: str | None, limit: int) -> list[Row[Any]]:
    where: list[Any] = [u.c.bucket == bucket]
    if prefix:
        where.append(u.c.key.startswith(prefix, autoescape=True))
    if key_marker:
        if upload_id_marker:
            where.append(or_(u.c.key > key_marker,
                             and_(u.c.key == key_marker, u.c.upload_id > upload_id_marker)))
        else:
            where.append(u.c.key > key_marker)
    return list(conn.execute(select(u).where(*where).order_by(u.c.key, u.c.initiated, u.c.upload_id)
                             .limit(limit)).all())


def uploads_older_than(conn: Connection, bucket: str, cutoff: float, prefix: str = "") -> list[Row[Any]]:
    where = [u.c.bucket == bucket, u.c.initiated < cutoff]
    if prefix:
        where.append(u.c.key.startswith(prefix, autoescape=True))
    return list(conn.execute(select(u).where(*where)).all())
