"""SQL for lifecycle rules and for the expiry work they order.

Each expiry function runs inside one write transaction and re-reads what it acts on there, so a
version overwritten or deleted between the worker's scan and its commit is never touched by
mistake, and a run interrupted half-way can simply run again (idempotent).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, exists, func, insert, select, update

from .. import lifecycle_due as due
from ..errors import Conflict
from . import locks
from . import multipart as mpu_sql
from . import objects as obj_sql
from . import schema as s

r, o = s.lifecycle_rules, s.objects
u, p = s.multipart_uploads, s.multipart_parts
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


def expiring_rules(conn: Connection, bucket: str) -> list[Row[Any]]:
    """The bucket's enabled rules that expire current versions, in the order the worker applies them."""
    return list(conn.execute(select(r.c.prefix, r.c.expiration_days, r.c.expiration_date, r.c.name,
                                    r.c.filter).where(
        r.c.bucket == bucket, r.c.enabled,
        r.c.expiration_days.is_not(None) | r.c.expiration_date.is_not(None))
        .order_by(r.c.created_at)).all())


def enabled_rules(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(r).where(r.c.enabled).order_by(r.c.bucket, r.c.created_at)).all())


# -- expiry ----------------------------------------------------------------------------------
# Each selection below is written once and used twice: by the worker, with the cutoff of `now`,
# and by the preview (keyset pages, `*_page`), with the cutoff of the end of its window.

def _under(column: Any, prefix: str) -> list[Any]:
    return [column.startswith(prefix, autoescape=True)] if prefix else []


def _sizes(rule_filter: Any) -> list[Any]:
    """A filter's size bounds, in SQL; its tags are checked in Python (lifecycle_due.matches)."""
    rule_filter = rule_filter or {}
    out = []
    if rule_filter.get("size_gt") is not None:
        out.append(o.c.size > rule_filter["size_gt"])
    if rule_filter.get("size_lt") is not None:
        out.append(o.c.size < rule_filter["size_lt"])
    return out


def _current_due(bucket: str, prefix: str, cutoff: float, rule_filter: Any = None) -> list[Any]:
    return [o.c.bucket == bucket, o.c.is_latest, o.c.is_delete_marker.is_(False),
            o.c.last_modified < cutoff, *_under(o.c.key, prefix), *_sizes(rule_filter)]


def _noncurrent_due(bucket: str, prefix: str, cutoff: float) -> list[Any]:
    """Keys with a noncurrent version old enough that it may be due (its own last-modified
    time never comes after the moment it was replaced)."""
    return [o.c.bucket == bucket, o.c.is_latest.is_(False), o.c.last_modified < cutoff,
            *_under(o.c.key, prefix)]


def _lone_markers(bucket: str, prefix: str) -> list[Any]:
    other = o.alias("other")
    return [o.c.bucket == bucket, o.c.is_latest, o.c.is_delete_marker, *_under(o.c.key, prefix),
            ~exists().where(other.c.bucket == o.c.bucket, other.c.key == o.c.key, other.c.seq != o.c.seq)]


def _stale_uploads(bucket: str, prefix: str, cutoff: float) -> list[Any]:
    return [u.c.bucket == bucket, u.c.initiated < cutoff, *_under(u.c.key, prefix)]


_VERSION_COLUMNS = (o.c.key, o.c.version_id, o.c.is_latest, o.c.is_delete_marker, o.c.size,
                    o.c.last_modified, o.c.storage_class, o.c.tags)


def _noncurrent_keys(conn: Connection, bucket: str, prefix: str, cutoff: float,
                     after_key: str | None) -> list[str]:
    where = _noncurrent_due(bucket, prefix, cutoff)
    if after_key is not None:
        where.append(o.c.key > after_key)
    return [k for (k,) in conn.execute(select(o.c.key).where(*where).group_by(o.c.key)
                                       .order_by(o.c.key).limit(BATCH))]


def _versions(conn: Connection, bucket: str, keys: list[str]) -> list[Row[Any]]:
    """Every version of these keys, by key, newest first."""
    return list(conn.execute(select(*_VERSION_COLUMNS).where(o.c.bucket == bucket, o.c.key.in_(keys))
                             .order_by(o.c.key, o.c.seq.desc())).all())


def _current_page(conn: Connection, bucket: str, prefix: str, cutoff: float, rule_filter: Any,
                  after_key: str | None, *extra: Any) -> tuple[list[Row[Any]], str | None]:
    """Up to BATCH current versions due before `cutoff` after `after_key`, those passing the
    filter's tags, and the cursor of the next page (None when done)."""
    where = [*_current_due(bucket, prefix, cutoff, rule_filter), *extra]
    if after_key is not None:
        where.append(o.c.key > after_key)
    rows = conn.execute(select(o.c.key, o.c.version_id, o.c.size, o.c.tags).where(*where)
                        .order_by(o.c.key).limit(BATCH)).all()
    cursor = rows[-1].key if len(rows) == BATCH else None
    return [row for row in rows if due.matches(rule_filter, row.size, row.tags)], cursor


def expire_current(conn: Connection, bucket: str, prefix: str, cutoff: float, now: float,
                   events: obj_sql.Events | None = None, rule_filter: Any = None,
                   after_key: str | None = None) -> tuple[int, list[str], str | None]:
    """Expire the current versions of one page last modified before `cutoff`, as a DELETE would.

    In a versioned bucket that writes a delete marker (the data stays as a noncurrent version);
    otherwise the version goes. Answers (expired, freed blobs, the next page's cursor or None).
    """
    rows, cursor = _current_page(conn, bucket, prefix, cutoff, rule_filter, after_key)
    freed: list[str] = []
    expired = 0
    for row in rows:
        locks.lock_keys(conn, bucket, [row.key])   # then look again: another process may have
        current = obj_sql.latest(conn, bucket, row.key)   # written it since it was found due
        if current is None or current.version_id != row.version_id or current.last_modified >= cutoff:
            continue
        _vid, _marker, more = obj_sql.delete_version(conn, bucket, row.key, None, now, events=events)
        freed += more
        expired += 1
    return expired, freed, cursor


def transition_current(conn: Connection, bucket: str, prefix: str, cutoff: float,
                       storage_class: str, rule_filter: Any = None, after_key: str | None = None
                       ) -> tuple[int, list[str], str | None]:
    """Move one page of current versions due before `cutoff` to `storage_class`: a metadata
    change (every class is stored alike). Answers (moved, no freed blobs, next cursor)."""
    rows, cursor = _current_page(conn, bucket, prefix, cutoff, rule_filter, after_key,
                                 o.c.storage_class != storage_class)
    for row in rows:
        _set_class(conn, bucket, row.key, row.version_id, storage_class)
    return len(rows), [], cursor


def _set_class(conn: Connection, bucket: str, key: str, version_id: str, storage_class: str) -> None:
    conn.execute(update(o).where(o.c.bucket == bucket, o.c.key == key, o.c.version_id == version_id)
                 .values(storage_class=storage_class))


def expire_noncurrent(conn: Connection, bucket: str, prefix: str, days: int, keep: int,
                      after_key: str | None, now: float, events: obj_sql.Events | None = None,
                      rule_filter: Any = None) -> tuple[int, list[str], str | None]:
    """Remove the noncurrent versions `lifecycle_due.noncurrent_dues` says are due at `now`.

    Works through up to BATCH keys after `after_key`; answers (removed, freed blobs, last key
    seen or None when done).
    """
    removed, freed = 0, []
    keys, dues = _noncurrent_dues(conn, bucket, prefix, days, keep, after_key, now, rule_filter)
    for key, row in dues:
        freed += obj_sql.delete_version(conn, bucket, key, row.version_id, now, events=events)[2]
        removed += 1
    return removed, freed, keys[-1] if len(keys) == BATCH else None


def transition_noncurrent(conn: Connection, bucket: str, prefix: str, days: int, keep: int,
                          storage_class: str, after_key: str | None, now: float,
                          rule_filter: Any = None) -> tuple[int, list[str], str | None]:
    """Move the noncurrent versions due at `now` to `storage_class` (metadata only)."""
    moved = 0
    keys, dues = _noncurrent_dues(conn, bucket, prefix, days, keep, after_key, now, rule_filter)
    for key, row in dues:
        if row.storage_class != storage_class:
            _set_class(conn, bucket, key, row.version_id, storage_class)
            moved += 1
    return moved, [], keys[-1] if len(keys) == BATCH else None


def _noncurrent_dues(conn: Connection, bucket: str, prefix: str, days: int, keep: int,
                     after_key: str | None, now: float, rule_filter: Any
                     ) -> tuple[list[str], list[tuple[str, Row[Any]]]]:
    keys = _noncurrent_keys(conn, bucket, prefix, due.cutoff(now, days), after_key)
    found = [(key, row) for key in keys
             for row, when in due.noncurrent_dues(_versions(conn, bucket, [key]), days, keep)
             if when < now and due.matches(rule_filter, row.size, row.tags)]
    return keys, found


def remove_lone_delete_markers(conn: Connection, bucket: str, prefix: str, now: float,
                               events: obj_sql.Events | None = None) -> tuple[int, list[str], bool]:
    """Remove up to BATCH delete markers that are the only version left of their key.

    Answers (removed, freed blobs (none: markers own no bytes), whether more may remain).
    """
    rows = conn.execute(select(o.c.key, o.c.version_id).where(*_lone_markers(bucket, prefix))
                        .limit(BATCH)).all()
    freed: list[str] = []
    for key, version_id in rows:
        freed += obj_sql.delete_version(conn, bucket, key, version_id, now, events=events)[2]
    return len(rows), freed, len(rows) == BATCH


def abort_stale_uploads(conn: Connection, bucket: str, prefix: str, cutoff: float
                        ) -> tuple[int, list[str], bool]:
    """Abort up to BATCH multipart uploads initiated before `cutoff`.

    Answers (aborted, freed blobs, whether more may remain).
    """
    uploads = conn.execute(select(u.c.upload_id).where(*_stale_uploads(bucket, prefix, cutoff))
                           .limit(BATCH + 1)).all()
    freed: list[str] = []
    for (upload_id,) in uploads[:BATCH]:
        freed += mpu_sql.finish_upload(conn, upload_id, set())
    return min(len(uploads), BATCH), freed, len(uploads) > BATCH


# -- preview pages: (rows, the cursor of the next page or None) ----------------------------

Page = tuple[list[Any], Any]


def _page(rows: list[Any], cursor: Any) -> Page:
    return rows, cursor if len(rows) == BATCH else None


def _versions_page(conn: Connection, where: list[Any], after: str | None) -> Page:
    """Version rows matching `where`, by key, after the key `after`."""
    if after is not None:
        where = [*where, o.c.key > after]
    rows = list(conn.execute(select(*_VERSION_COLUMNS).where(*where).order_by(o.c.key).limit(BATCH)).all())
    return _page(rows, rows[-1].key if rows else None)


def current_due_page(conn: Connection, bucket: str, prefix: str, cutoff: float, after: str | None) -> Page:
    return _versions_page(conn, _current_due(bucket, prefix, cutoff), after)


def noncurrent_page(conn: Connection, bucket: str, prefix: str, cutoff: float, after: str | None) -> Page:
    """Keys that may have a noncurrent version due: each as the list of its versions, newest first."""
    keys = _noncurrent_keys(conn, bucket, prefix, cutoff, after)
    groups: dict[str, list[Row[Any]]] = {key: [] for key in keys}
    if keys:
        for row in _versions(conn, bucket, keys):
            groups[row.key].append(row)
    return _page(list(groups.values()), keys[-1] if keys else None)


def lone_markers_page(conn: Connection, bucket: str, prefix: str, after: str | None) -> Page:
    return _versions_page(conn, _lone_markers(bucket, prefix), after)


def stale_uploads_page(conn: Connection, bucket: str, prefix: str, cutoff: float, after: str | None) -> Page:
    """Uploads initiated before `cutoff`, each with the bytes of its parts."""
    where = _stale_uploads(bucket, prefix, cutoff)
    if after is not None:
        where.append(u.c.upload_id > after)
    size = func.coalesce(func.sum(p.c.size), 0).label("size")
    rows = list(conn.execute(
        select(u.c.upload_id, u.c.key, u.c.initiated, size)
        .select_from(u.outerjoin(p, p.c.upload_id == u.c.upload_id)).where(*where)
        .group_by(u.c.upload_id, u.c.key, u.c.initiated).order_by(u.c.upload_id).limit(BATCH)).all())
    return _page(rows, rows[-1].upload_id if rows else None)
