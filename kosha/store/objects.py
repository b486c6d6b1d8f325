"""SQL for object versions: commits of new versions, deletes, and listings.

Every function runs inside one transaction (see Database.write), so a new version, the blob
references it takes, the versions it replaces and the bucket's byte count change together.

Several processes may write one database: every function that changes a key first takes that
key's lock (`locks.lock_keys`), so it reads the latest version only once no other transaction
can replace it; it holds the bucket row against a concurrent bucket deletion (FOR KEY SHARE,
which does not block other writers of the bucket's counters); and the byte and object counts
change by an atomic `used = used + delta` in the same transaction, from rows this transaction
really removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (JSON, Connection, Row, Text, and_, bindparam, delete, func, insert, or_, select,
                        update)

from ..errors import NotFound, PreconditionFailed, QuotaExceeded
from ..ids import new_version_id
from .database import BATCH_MEMO, defer_to_settle, keeps_batch_memo
from .direct import DirectStatement
from . import blob_refs, locks
from . import schema as s

o = s.objects
b = s.buckets
NULL_VERSION = "null"
LIST_BATCH = 1000

# The statements of the hot path, built once: building a statement per call costs ~4× its execution.
_LATEST = select(o).where(o.c.bucket == bindparam("b"), o.c.key == bindparam("k"), o.c.is_latest)
_VERSION = select(o).where(o.c.bucket == bindparam("b"), o.c.key == bindparam("k"),
                           o.c.version_id == bindparam("v"))
_LATEST_ROW, _VERSION_ROW = DirectStatement(_LATEST), DirectStatement(_VERSION)
_ROW_COLUMNS = tuple(c.name for c in _LATEST.selected_columns)
_INSERT = DirectStatement(insert(o).values(
    {c: bindparam(f"v_{c.name}") for c in o.c if c.name != "seq"}).returning(o.c.seq))
_JSON_COLUMNS = frozenset(c.name for c in o.c if isinstance(c.type, JSON))
_RETIRE = DirectStatement(update(o).where(o.c.seq == bindparam("s")).values(is_latest=False))
# Rewriting a bucket's one version of a key in place (versioning never enabled): the columns
# no index covers, so SQLite rewrites the row and touches none of the three indexes.
_REWRITTEN = tuple(c.name for c in o.c if c.name not in ("seq", "bucket", "key", "version_id", "is_latest"))
_OVERWRITE = DirectStatement(update(o).where(o.c.seq == bindparam("s")).values(
    {o.c[name]: bindparam(f"v_{name}") for name in _REWRITTEN}))
_OVERWRITE_NAMES = (*(f"v_{name}" for name in _REWRITTEN), "s")
_DELETE = DirectStatement(delete(o).where(o.c.seq == bindparam("s")))
_CURRENT = DirectStatement(
    select(o.c.seq, o.c.version_id, o.c.etag, o.c.is_delete_marker, o.c.size, o.c.blobs)
    .where(o.c.bucket == bindparam("b"), o.c.key == bindparam("k"), o.c.is_latest))
_KEY_NAMES = ("b", "k")
_BUCKET_STATE = DirectStatement(select(b.c.versioning, b.c.allocated_capacity).where(
    b.c.name == bindparam("b")).with_for_update(read=True, key_share=True))
# PostgreSQL: the bucket's state and the key's lock in one round trip (the hot path of a PUT).
_STATE_AND_LOCK = {try_only: DirectStatement(
    select(b.c.versioning, b.c.allocated_capacity,
           func.pg_try_advisory_xact_lock(bindparam("c"), func.hashtext(bindparam("n"))) if try_only
           else func.pg_advisory_xact_lock(bindparam("c"), func.hashtext(bindparam("n"))).cast(Text))
    .where(b.c.name == bindparam("b")).with_for_update(read=True, key_share=True))
    for try_only in (False, True)}
_USAGE = DirectStatement(update(b).where(b.c.name == bindparam("b")).values(
    used_capacity=b.c.used_capacity + bindparam("bytes"),
    object_count=b.c.object_count + bindparam("count")))


@dataclass
class Content:
    """The bytes of a version: inline, or a manifest of blobs (one, or one per multipart part)."""
    size: int
    etag: str
    blobs: list[list[Any]]
    inline_data: bytes | None = None
    part_sizes: list[int] | None = None
    part_checksums: list[str] | None = None
    blob_mode: str = "new"        # new: insert blob rows; share: take a reference; adopt: take over
                                  # the references of a completed upload's parts


_ATTR_DEFAULTS: dict[str, Any] = dict(content_type=None, storage_class="STANDARD", headers=None,
                                      user_meta=None, checksums=None, tags=None, acl=None, owner=None)


class Events(Protocol):
    """Records the events of a change in its transaction (kosha.notify.recorder.Recorder)."""

    def created(self, conn: Connection, bucket: str, row: Any) -> None: ...

    def removed(self, conn: Connection, bucket: str, key: str, version_id: str | None,
                marker_created: bool) -> None: ...


@dataclass
class Preconditions:
    if_match: str | None = None
    if_none_match: str | None = None


def latest(conn: Connection, bucket: str, key: str) -> Row[Any] | None:
    return conn.execute(_LATEST, {"b": bucket, "k": key}).first()


def version(conn: Connection, bucket: str, key: str, version_id: str | None) -> Row[Any] | None:
    if version_id is None:
        return latest(conn, bucket, key)
    return conn.execute(_VERSION, {"b": bucket, "k": key, "v": version_id}).first()


def read_version(conn: Connection, bucket: str, key: str, version_id: str | None) -> Any:
    """`version` for GET and HEAD. On PostgreSQL straight on the cursor, as a VersionRow (its
    driver parses the JSON columns itself): Core's execution and result costs about a third of
    a small GET's server CPU there. SQLite's reads are mostly memo hits: Core is kept."""
    if conn.dialect.name != "postgresql":
        return version(conn, bucket, key, version_id)
    if version_id is None:
        rows = _LATEST_ROW.run(conn, {"b": bucket, "k": key})
    else:
        rows = _VERSION_ROW.run(conn, {"b": bucket, "k": key, "v": version_id})
    return VersionRow(zip(_ROW_COLUMNS, rows[0])) if rows else None


@dataclass
class BucketState:
    versioning: str
    allocated_capacity: int | None


class VersionRow(dict[str, Any]):
    """A version row as inserted: its values by column name, readable as attributes like a Row."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> VersionRow:
        return self


_INSERT_NAMES = tuple(f"v_{c.name}" for c in o.c if c.name != "seq")
_INSERT_COLUMNS = tuple(name[2:] for name in _INSERT_NAMES)


def _insert_version(conn: Connection, values: VersionRow) -> VersionRow:
    """INSERT one version row straight on the cursor, its JSON serialised as SQLAlchemy's JSON
    type would (None as 'null'): the Core path costs ~3x the statement on the writer thread.
    `values` holds every column but `seq`; they go to the driver as one tuple in the table's
    column order (no parameter dict per row); it gets `seq` and is the row answered."""
    seq = _INSERT.run_tuple(conn, _INSERT_NAMES, _bound(values, _INSERT_COLUMNS))[0][0]
    values["seq"] = seq
    return values


_EMPTY_JSON = {type(None): "null", dict: "{}", list: "[]"}


def _bound(values: VersionRow, columns: tuple[str, ...]) -> tuple[Any, ...]:
    """The values of `columns`, in that order, as the driver takes them (JSON columns
    serialised)."""
    return tuple([_json(values[name]) if name in _JSON_COLUMNS else values[name]
                  for name in columns])


def _json(value: Any) -> str:
    """json.dumps, without its cost for what most columns of a small PUT hold (None, {}, [])."""
    if not value:
        text = _EMPTY_JSON.get(type(value))
        if text is not None:
            return text
    return json.dumps(value)


@dataclass
class Current:
    """What a commit needs of the version it replaces (read without SQLAlchemy's row machinery)."""
    seq: int
    version_id: str
    etag: str
    is_delete_marker: bool
    size: int
    blobs: list[list[Any]]


def _bucket_state(conn: Connection, bucket: str) -> BucketState:
    rows = _BUCKET_STATE.run(conn, {"b": bucket})
    if not rows:
        raise NotFound("bucket not found", s3_code="NoSuchBucket")
    return BucketState(str(rows[0][0]), rows[0][1])


def _locked_state(conn: Connection, bucket: str, key: str) -> BucketState:
    """The bucket's state, with the key's lock held (see kosha.store.locks). On SQLite (the
    writer holds the whole database) read once per batch of version commits: the batch memo
    (Database.BATCH_MEMO) is emptied around any unit that could change a bucket."""
    if conn.dialect.name != "postgresql":
        memo = conn.info.get(BATCH_MEMO)
        if memo is None:
            return _bucket_state(conn, bucket)
        state = memo.get(("bucket_state", bucket))
        if state is None:
            state = memo[("bucket_state", bucket)] = _bucket_state(conn, bucket)
        return state  # type: ignore[no-any-return]
    grouped = locks.in_group()
    rows = _STATE_AND_LOCK[grouped].run(conn, {"b": bucket, "c": locks.OBJECT_KEY,
                                               "n": locks.key_name(bucket, key)})
    if not rows:
        raise NotFound("bucket not found", s3_code="NoSuchBucket")
    if grouped and not rows[0][2]:
        raise locks.Contended(locks.key_name(bucket, key))
    return BucketState(str(rows[0][0]), rows[0][1])


def _current(conn: Connection, bucket: str, key: str) -> Current | None:
    rows = _CURRENT.run_tuple(conn, _KEY_NAMES, (bucket, key))
    if not rows:
        return None
    seq, vid, etag, marker, size, blobs = rows[0]
    if isinstance(blobs, str):
        blobs = [] if blobs == "[]" else json.loads(blobs)   # an inline version's: "[]"
    return Current(seq, vid, etag, bool(marker), size, blobs or [])


def _versioning(conn: Connection, bucket: str) -> str:
    return _bucket_state(conn, bucket).versioning


def _check(current: Row[Any] | Current | None, pre: Preconditions | None) -> None:
    if pre is None:
        return
    live = current is not None and not current.is_delete_marker
    if pre.if_none_match is not None:
        if pre.if_none_match.strip() == "*" and live:
            raise PreconditionFailed("at least one of the preconditions you specified did not hold")
        if live and current is not None and _etag_in(current.etag, pre.if_none_match):
            raise PreconditionFailed("at least one of the preconditions you specified did not hold")
    if pre.if_match is not None:
        if not live:
            raise NotFound("the specified key does not exist", s3_code="NoSuchKey")
        assert current is not None
        if not _etag_in(current.etag, pre.if_match):
            raise PreconditionFailed("at least one of the preconditions you specified did not hold")


def _etag_in(etag: str, header: str) -> bool:
    wanted = {v.strip().removeprefix("W/").strip('"') for v in header.split(",")}
    return "*" in wanted or etag in wanted


_USAGE_PENDING = "usage"   # in the batch memo: {bucket: [bytes, objects]} not yet written


def _adjust_usage(conn: Connection, bucket: str, bytes_delta: int, count_delta: int,
                  quota: int | None = None) -> None:
    """Change the bucket's byte and object counts. On SQLite, with no quota to check, the
    change joins the batch's others (one UPDATE per bucket per batch, written before the
    commit or any unit that may read them: Database's batch settle); a quota check reads the
    count at once, so it writes what is pending first."""
    if not bytes_delta and not count_delta:
        return
    memo = conn.info.get(BATCH_MEMO) if conn.dialect.name != "postgresql" else None
    if memo is not None:
        pending = memo.get(_USAGE_PENDING)
        if quota is None:
            if pending is None:
                pending = memo[_USAGE_PENDING] = {}
                defer_to_settle(memo, _USAGE_PENDING, _write_usage)
            counts = pending.get(bucket)
            if counts is None:
                pending[bucket] = [bytes_delta, count_delta]
            else:
                counts[0] += bytes_delta
                counts[1] += count_delta
            return
        if pending:
            _write_usage(conn)
    _USAGE.run(conn, {"b": bucket, "bytes": bytes_delta, "count": count_delta})
    if bytes_delta > 0 and quota is not None:
        used = conn.execute(select(b.c.used_capacity).where(b.c.name == bucket)).scalar_one()
        if used > quota:
            raise QuotaExceeded(f"bucket quota of {quota} bytes exceeded; nothing was stored")


def _write_usage(conn: Connection) -> None:
    """Write the batch's pending count changes, one UPDATE per bucket."""
    pending = conn.info[BATCH_MEMO].pop(_USAGE_PENDING, None) or {}
    for bucket, (bytes_delta, count_delta) in pending.items():
        if bytes_delta or count_delta:
            _USAGE.run(conn, {"b": bucket, "bytes": bytes_delta, "count": count_delta})


def _drop(conn: Connection, row: Row[Any] | Current) -> tuple[list[str], int, int]:
    """Delete one version row; answer freed blobs and the (bytes, count) it took from the bucket."""
    if not _DELETE.count(conn, {"s": row.seq}):
        return [], 0, 0   # already gone: neither its blobs nor the bucket's counts are ours to change
    return _released(conn, row)


def _released(conn: Connection, row: Row[Any] | Current) -> tuple[list[str], int, int]:
    """What a version that goes gives back: its blobs' references (answering the blobs freed)
    and the (bytes, count) it took from the bucket."""
    freed = blob_refs.decref(conn, [b[0] for b in row.blobs]) if row.blobs else []
    return (freed, 0, 0) if row.is_delete_marker else (freed, -row.size, -1)


def _make_room(conn: Connection, bucket: str, key: str, versioning: str,
               current: Row[Any] | Current | None) -> tuple[str, list[str], int, int]:
    """Before a new latest version: retire the current one as versioning says.

    Answers the new version's id, freed blobs, and the usage change so far.
    """
    freed: list[str] = []
    bytes_delta = count_delta = 0
    if versioning == "Enabled":
        vid = new_version_id()
    else:
        vid = NULL_VERSION
        null_row = current
        if current is not None and current.version_id != NULL_VERSION:
            null_row = version(conn, bucket, key, NULL_VERSION)
        if null_row is not None:
            freed, bytes_delta, count_delta = _drop(conn, null_row)
            if current is not None and current.seq == null_row.seq:
                current = None
    if current is not None:
        _RETIRE.run(conn, {"s": current.seq})
    return vid, freed, bytes_delta, count_delta


def _overwrite(conn: Connection, current: Current, values: VersionRow) -> bool:
    """Make the version `current` (the key's only one, null, in a bucket whose versioning was
    never enabled: it never goes back to off) hold `values`, keeping its `seq`: one UPDATE that
    leaves every index as it was, where replacing it took a DELETE and an INSERT, each
    changing the table and its three indexes. False if the row is gone (it cannot be: the key
    is locked)."""
    if not _OVERWRITE.run_count(conn, _OVERWRITE_NAMES, (*_bound(values, _REWRITTEN), current.seq)):
        return False
    values["seq"] = current.seq
    return True


@keeps_batch_memo
def commit_version(conn: Connection, bucket: str, key: str, content: Content, attrs: dict[str, Any],
                   now: float, pre: Preconditions | None = None, events: Events | None = None
                   ) -> tuple[VersionRow, list[str]]:
    """Make `content` the latest version of `key`; answer the new row and the blobs now garbage."""
    state = _locked_state(conn, bucket, key)
    current = _current(conn, bucket, key)
    _check(current, pre)
    if content.blob_mode == "new":
        for blob_id, size in content.blobs:
            blob_refs.add(conn, blob_id, size, now)
    elif content.blob_mode == "share":   # before the old version goes, which may be the source
        blob_refs.incref(conn, [b[0] for b in content.blobs])
    values = VersionRow(_ATTR_DEFAULTS)
    values.update(attrs)
    values.update(
        bucket=bucket, key=key, version_id=NULL_VERSION, is_latest=True, is_delete_marker=False,
        size=content.size, etag=content.etag, blobs=content.blobs, inline_data=content.inline_data,
        part_sizes=content.part_sizes, part_checksums=content.part_checksums, last_modified=now)
    if (state.versioning == "" and current is not None and current.version_id == NULL_VERSION
            and _overwrite(conn, current, values)):
        freed, bytes_delta, count_delta = _released(conn, current)
        row = values
    else:
        vid, freed, bytes_delta, count_delta = _make_room(conn, bucket, key, state.versioning, current)
        values["version_id"] = vid
        row = _insert_version(conn, values)
    _adjust_usage(conn, bucket, bytes_delta + content.size, count_delta + 1, state.allocated_capacity)
    if events is not None:
        events.created(conn, bucket, row)
    return row, freed


def copy_version(conn: Connection, src_bucket: str, src_key: str, src_version: str | None,
                 dst_bucket: str, dst_key: str, overrides: dict[str, Any], now: float,
                 pre: Preconditions | None = None, events: Events | None = None
                 ) -> tuple[VersionRow, list[str]]:
    """A new version that shares the source's blobs: no byte is copied."""
    locks.lock_pairs(conn, [(src_bucket, src_key), (dst_bucket, dst_key)])  # the source stays
    src = version(conn, src_bucket, src_key, src_version)
    if src is None or src.is_delete_marker:
        raise NotFound("the specified key does not exist", s3_code="NoSuchKey")
    attrs = {name: src._mapping[name] for name in
             ("content_type", "storage_class", "headers", "user_meta", "checksums", "tags", "acl", "owner")}
    attrs.update(overrides)
    content = Content(size=src.size, etag=src.etag, blobs=src.blobs or [],
                      inline_data=src.inline_data, part_sizes=src.part_sizes,
                      part_checksums=src.part_checksums, blob_mode="share")
    return commit_version(conn, dst_bucket, dst_key, content, attrs, now, pre, events)


def delete_version(conn: Connection, bucket: str, key: str, version_id: str | None, now: float,
                   owner: str | None = None, pre: Preconditions | None = None,
                   events: Events | None = None) -> tuple[str | None, bool, list[str]]:
    """S3 delete semantics. Answers (version id, whether it is/was a delete marker, freed blobs).

    `events` hears of what was removed or marked, and of nothing when nothing changed.
    """
    locks.lock_keys(conn, bucket, [key])
    versioning = _versioning(conn, bucket)
    if version_id is not None:
        return _delete_specific(conn, bucket, key, version_id, pre, events)
    current = latest(conn, bucket, key)
    _check(current, pre)
    if versioning == "":
        if current is None:
            return None, False, []
        freed, bytes_delta, count_delta = _drop(conn, current)
        _adjust_usage(conn, bucket, bytes_delta, count_delta)
        if events is not None:
            events.removed(conn, bucket, key, current.version_id, False)
        return None, False, freed
    vid, freed, bytes_delta, count_delta = _make_room(conn, bucket, key, versioning, current)
    conn.execute(insert(o).values(
        bucket=bucket, key=key, version_id=vid, is_latest=True, is_delete_marker=True, size=0,
        etag="", blobs=[], last_modified=now, owner=owner, storage_class="STANDARD"))
    _adjust_usage(conn, bucket, bytes_delta, count_delta)
    if events is not None:
        events.removed(conn, bucket, key, vid, True)
    return vid, True, freed


def _delete_specific(conn: Connection, bucket: str, key: str, version_id: str,
                     pre: Preconditions | None, events: Events | None = None
                     ) -> tuple[str | None, bool, list[str]]:
    row = version(conn, bucket, key, version_id)
    if row is None:
        return version_id, False, []
    _check(row, pre)
    freed, bytes_delta, count_delta = _drop(conn, row)
    if row.is_latest:
        newest = conn.execute(select(o.c.seq).where(o.c.bucket == bucket, o.c.key == key)
                              .order_by(o.c.seq.desc()).limit(1)).scalar()
        if newest is not None:
            conn.execute(update(o).where(o.c.seq == newest).values(is_latest=True))
    _adjust_usage(conn, bucket, bytes_delta, count_delta)
    if events is not None:
        events.removed(conn, bucket, key, version_id, False)
    return version_id, bool(row.is_delete_marker), freed


def update_attrs(conn: Connection, bucket: str, key: str, version_id: str | None,
                 values: dict[str, Any]) -> Row[Any]:
    locks.lock_keys(conn, bucket, [key])
    row = version(conn, bucket, key, version_id)
    if row is None or (row.is_delete_marker and version_id is None):
        raise NotFound("the specified key does not exist", s3_code="NoSuchKey")
    conn.execute(update(o).where(o.c.seq == row.seq).values(**values))
    fresh = version(conn, bucket, key, row.version_id)
    assert fresh is not None
    return fresh


# -- listings --------------------------------------------------------------------------------

def prefix_end(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix`."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _key_range(prefix: str) -> list[Any]:
    where = []
    if prefix:
        where.append(o.c.key >= prefix)
        end = prefix_end(prefix)
        if end is not None:
            where.append(o.c.key < end)
    return where


def _rollup(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return key[:at + len(delimiter)] if at >= 0 else None


# What a listing shows of a version: never its inline bytes, blob list or stored headers.
LISTED = (o.c.seq, o.c.bucket, o.c.key, o.c.version_id, o.c.is_latest, o.c.is_delete_marker,
          o.c.size, o.c.etag, o.c.storage_class, o.c.last_modified, o.c.owner, o.c.checksums)


def list_latest(conn: Connection, bucket: str, prefix: str, delimiter: str | None,
                marker: str | None, max_keys: int) -> tuple[list[Row[Any]], list[str], bool, str | None]:
    """Current, non-deleted versions in key order, rolled up into common prefixes by `delimiter`.

    Answers (rows, prefixes, truncated, last key or prefix returned). Each common prefix is
    skipped in one index seek, so a listing costs O(page), not O(keys under the prefix).
    """
    rows: list[Row[Any]] = []
    prefixes: list[str] = []
    after = marker or ""
    inclusive = False
    last: str | None = None
    while True:
        cond = [o.c.bucket == bucket, o.c.is_latest, *_key_range(prefix),
                o.c.key >= after if inclusive else o.c.key > after]
        batch = conn.execute(select(*LISTED).where(*cond).order_by(o.c.key).limit(LIST_BATCH)).all()
        if not batch:
            return rows, prefixes, False, last
        jumped = False
        for row in batch:
            if row.is_delete_marker:
                after, inclusive = row.key, False
                continue
            common = _rollup(row.key, prefix, delimiter)
            if common is not None and marker is not None and common <= marker:
                nxt = prefix_end(common)  # returned on an earlier page: skip past it
                if nxt is None:
                    after, inclusive = row.key, False
                    continue
                after, inclusive, jumped = nxt, True, True
                break
            if len(rows) + len(prefixes) >= max_keys:
                return rows, prefixes, True, last
            if common is not None:
                prefixes.append(common)
                last = common
                nxt = prefix_end(common)
                if nxt is None:
                    return rows, prefixes, False, last
                after, inclusive, jumped = nxt, True, True
                break
            rows.append(row)
            last = after = row.key
            inclusive = False
        if not jumped and len(batch) < LIST_BATCH:
            return rows, prefixes, False, last


def list_versions(conn: Connection, bucket: str, prefix: str, delimiter: str | None,
                  key_marker: str | None, version_marker: str | None, max_keys: int
                  ) -> tuple[list[Row[Any]], list[str], bool, str | None, str | None]:
    """Every version (delete markers too), by key, newest first within a key.

    Answers (rows, prefixes, truncated, next key marker, next version-id marker).
    """
    rows: list[Row[Any]] = []
    prefixes: list[str] = []
    start = _version_start(conn, bucket, key_marker, version_marker)
    last_key: str | None = None
    last_vid: str | None = None
    while True:
        batch = conn.execute(select(*LISTED).where(o.c.bucket == bucket, *_key_range(prefix), start)
                             .order_by(o.c.key, o.c.seq.desc()).limit(LIST_BATCH)).all()
        if not batch:
            return rows, prefixes, False, last_key, last_vid
        jumped = False
        for row in batch:
            common = _rollup(row.key, prefix, delimiter)
            if len(rows) + len(prefixes) >= max_keys:
                return rows, prefixes, True, last_key, last_vid
            if common is not None:
                if not prefixes or prefixes[-1] != common:
                    prefixes.append(common)
                last_key, last_vid = common, None
                nxt = prefix_end(common)
                if nxt is None:
                    return rows, prefixes, False, last_key, last_vid
                start = o.c.key >= nxt
                jumped = True
                break
            rows.append(row)
            last_key, last_vid = row.key, row.version_id
            start = or_(and_(o.c.key == row.key, o.c.seq < row.seq), o.c.key > row.key)
        if not jumped and len(batch) < LIST_BATCH:
            return rows, prefixes, False, last_key, last_vid


def _version_start(conn: Connection, bucket: str, key_marker: str | None,
                   version_marker: str | None) -> Any:
    if not key_marker:
        return o.c.key >= ""
    if version_marker:
        seq = conn.execute(select(o.c.seq).where(o.c.bucket == bucket, o.c.key == key_marker,
                                                 o.c.version_id == version_marker)).scalar()
        if seq is not None:
            return or_(and_(o.c.key == key_marker, o.c.seq < seq), o.c.key > key_marker)
    return o.c.key > key_marker


def noncurrent_versions(conn: Connection, bucket: str, key: str) -> list[Row[Any]]:
    return list(conn.execute(select(o).where(o.c.bucket == bucket, o.c.key == key,
                                             o.c.is_latest.is_(False)).order_by(o.c.seq.desc())))
