"""SQL for lifecycle rules and for the expiry work they order.

Each expiry function runs inside one write transaction and re-reads what it acts on there, so a
version overwritten or deleted between the worker's scan and its commit is never touched by
mistake, and a run interrupted half-way can simply run again (idempotent).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, insert, select, update

from ..errors import Conflict
from . import multipart as mpu_sql
from . import objects as obj_sql
from . import schema as s

r, o = s.lifecycle_rules, s.objects
BATCH = 500


# -- rules -----------------------------------------------------------------------------------

def list_rules(conn: Connection, bucket: str) -> list[Row[Any]]:
    return list(conn.execute(select(r).where(r.c.bucket == bucket)
                             .order_by(r.c.created_at, r.c.name)).all())


def get_rule(conn: Connection, bucket: str, rule_id: str) -> Row[Any] | None:
    return conn.execute(select(r).where(r.c.bucket == bucket, r.c.rule_id == rule_id)).first()


def _refuse_duplicate_name(conn: Connection, bucket: str, name: str, rule_id: str | None) -> None:
    clash = conn.execute(select(r.c.rule_id).where(r.c.bucket == bucket, r.c.name == name)).scalar()
    if clash is not None and clash != rule_id:
        raise Conflict(f"a lifecycle rule named {name!r} already exists on this bucket")


def insert_rule(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    _refuse_duplicate_name(conn, values["bucket"], values["name"], None)
    conn.execute(insert(r).values(**values))
    row = get_rule(conn, values["bucket"], values["rule_id"])
    assert row is not None
    return row


def update_rule(conn: Connection, bucket: str, rule_id: str, values: dict[str, Any]) -> Row[Any] | None:
    if get_rule(conn, bucket, rule_id) is None:
        return None
    if "name" in values:
        _refuse_duplicate_name(conn, bucket, values["name"], rule_id)
    conn.execute(update(r).where(r.c.bucket == bucket, r.c.rule_id == rule_id).values(**values))
    return get_rule(conn, bucket, rule_id)


def delete_rule(conn: Connection, bucket: str, rule_id: str) -> bool:
    return conn.execute(delete(r).where(r.c.bucket == bucket, r.c.rule_id == rule_id)).rowcount > 0


def replace_rules(conn: Connection, bucket: str, rules: list[dict[str, Any]]) -> list[Row[Any]]:
    """All of a bucket's rules at once (S3 PutBucketLifecycleConfiguration)."""
    conn.execute(delete(r).where(r.c.bucket == bucket))
    for values in rules:
        insert_rule(conn, values)
    return list_rules(conn, bucket)


def delete_all(conn: Connection, bucket: str) -> None:
    conn.execute(delete(r).where(r.c.bucket == bucket))


def enabled_rules(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(r).where(r.c.enabled).order_by(r.c.bucket, r.c.created_at)).all())


# -- expiry ----------------------------------------------------------------------------------

def _under(prefix: str) -> list[Any]:
    return [o.c.key.startswith(prefix, autoescape=True)] if prefix else []


def expire_current(conn: Connection, bucket: str, prefix: str, cutoff: float, now: float
                   ) -> tuple[int, list[str], bool]:
    """Expire up to BATCH current versions last modified before `cutoff`, as a DELETE would.

    In a versioned bucket that writes a delete marker (the data stays as a noncurrent version);
    otherwise the version goes. Answers (expired, freed blobs, whether more may remain).
    """
    rows = conn.execute(select(o.c.key).where(
        o.c.bucket == bucket, o.c.is_latest, o.c.is_delete_marker.is_(False),
        o.c.last_modified < cutoff, *_under(prefix)).order_by(o.c.key).limit(BATCH)).all()
    freed: list[str] = []
    for (key,) in rows:
        _vid, _marker, more = obj_sql.delete_version(conn, bucket, key, None, now)
        freed += more
    return len(rows), freed, len(rows) == BATCH


def expire_noncurrent(conn: Connection, bucket: str, prefix: str, cutoff: float, keep: int,
                      after_key: str | None, now: float) -> tuple[int, list[str], str | None]:
    """Remove noncurrent versions that became noncurrent before `cutoff`, keeping the `keep`
    newest noncurrent versions of each key.

    A version becomes noncurrent when the next newer one is written, so its noncurrent age is
    measured from that newer version's last-modified time (as S3 does). Works through up to
    BATCH keys after `after_key`; answers (removed, freed blobs, last key seen or None when done).
    """
    where = [o.c.bucket == bucket, o.c.is_latest.is_(False), o.c.last_modified < cutoff, *_under(prefix)]
    if after_key is not None:
        where.append(o.c.key > after_key)
    keys = [k for (k,) in conn.execute(select(o.c.key).where(*where).group_by(o.c.key)
                                       .order_by(o.c.key).limit(BATCH))]
    removed, freed = 0, []
    for key in keys:
        versions = conn.execute(select(o).where(o.c.bucket == bucket, o.c.key == key)
                                .order_by(o.c.seq.desc())).all()
        noncurrent = 0
        for newer, row in pairwise(versions):
            if row.is_latest:
                continue
            noncurrent += 1
            if noncurrent > keep and newer.last_modified < cutoff:
                freed += obj_sql.delete_version(conn, bucket, key, row.version_id, now)[2]
                removed += 1
    return removed, freed, keys[-1] if len(keys) == BATCH else None


def remove_lone_delete_markers(conn: Connection, bucket: str, prefix: str, now: float
                               ) -> tuple[int, list[str], bool]:
    """Remove up to BATCH delete markers that are the only version left of their key.

    Answers (removed, freed blobs (none: markers own no bytes), whether more may remain).
    """
    other = o.alias("other")
    rows = conn.execute(select(o.c.key, o.c.version_id).where(
        o.c.bucket == bucket, o.c.is_latest, o.c.is_delete_marker, *_under(prefix),
        ~exists().where(other.c.bucket == o.c.bucket, other.c.key == o.c.key, other.c.seq != o.c.seq))
        .limit(BATCH)).all()
    freed: list[str] = []
    for key, version_id in rows:
        freed += obj_sql.delete_version(conn, bucket, key, version_id, now)[2]
    return len(rows), freed, len(rows) == BATCH


def abort_stale_uploads(conn: Connection, bucket: str, prefix: str, cutoff: float
                        ) -> tuple[int, list[str], bool]:
    """Abort up to BATCH multipart uploads initiated before `cutoff`.

    Answers (aborted, freed blobs, whether more may remain).
    """
    uploads = mpu_sql.uploads_older_than(conn, bucket, cutoff, prefix)
    freed: list[str] = []
    for upload in uploads[:BATCH]:
        freed += mpu_sql.finish_upload(conn, upload.upload_id, set())
    return min(len(uploads), BATCH), freed, len(uploads) > BATCH
