"""Objects: the write path, reads, deletes, metadata-only copies, and listings.

Write path (DESIGN.md): the body streams into a new blob while it is hashed; the blob is made
durable; then one metadata transaction makes it the latest version; then the caller is answered.
A body that fails half-way (client gone, bad signature, bad digest) leaves nothing behind. Small
bodies never touch the blob store: they live inline in the version row, so a small PUT costs one
(grouped) commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import (Invalid, MethodNotAllowed, NotFound, QuotaExceeded, Unavailable,
                      Unprocessable)
from ..ids import validate_object_key
from ..store import blob_refs, identity
from ..store.blob_owner import check_owner
from ..store import objects as sql
from ..store.blobs import BlobReader, Hasher
from .acl import Grants
from .models import Bucket, ObjectListing, ObjectVersion, VersionListing
from .principal import Principal

if TYPE_CHECKING:
    from .container import Kosha

MEMO_INLINE_BYTES = 8 * 1024
# Blobs of one GET opened before its first byte: every blob of an object of up to this many
# parts (a multipart object of more risks an overwrite dropping a later part mid-stream).
PINNED_BLOBS = 64
READ_ATTEMPTS = 5
R = TypeVar("R")
Span = tuple[int, int]
Checksums = Mapping[str, str] | Callable[[], Mapping[str, str]] | None


@dataclass
class StoredBytes:
    size: int
    md5_hex: str
    blob_id: str | None
    inline: bytes | None

    @property
    def blobs(self) -> list[list[Any]]:
        return [[self.blob_id, self.size]] if self.blob_id else []


@dataclass
class DeleteResult:
    version_id: str | None
    delete_marker: bool


class ObjectService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha

    # -- writing ----------------------------------------------------------------------------
    async def ingest(self, body: AsyncIterator[bytes], hashers: Mapping[str, Hasher] | None = None,
                     expected_size: int | None = None, inline_ok: bool = True) -> StoredBytes:
        """Stream a body into durable storage: inline bytes if small, else a committed blob."""
        self.kosha.blobs.check_room()
        threshold = self.kosha.settings.inline_threshold if inline_ok else -1
        extra = list((hashers or {}).values())
        first: bytes = b""             # a small body in one piece (the usual) is kept, not copied
        buffer: bytearray | None = None
        writer = None
        try:
            async for chunk in body:
                if writer is None:
                    if buffer is None and not first and type(chunk) is bytes:
                        first = chunk
                        held = len(first)
                    else:
                        if buffer is None:
                            buffer = bytearray(first)
                        buffer += chunk
                        held = len(buffer)
                    if held > threshold:
                        writer = self.kosha.blobs.open_writer(extra)
                        await writer.write(bytes(buffer) if buffer is not None else first)
                        first, buffer = b"", None
                else:
                    await writer.write(chunk)
                if writer is not None and writer.size > self.kosha.settings.max_object_size:
                    raise Invalid("object is larger than the maximum allowed size", s3_code="EntityTooLarge")
            size = writer.size if writer is not None else (
                len(buffer) if buffer is not None else len(first))
            if expected_size is not None and size != expected_size:
                raise Invalid(f"body has {size} bytes, Content-Length said {expected_size}",
                              s3_code="IncompleteBody")
            if writer is None:
                data = bytes(buffer) if buffer is not None else first
                for h in extra:
                    h.update(data)
                return StoredBytes(len(data), hashlib.md5(data).hexdigest(), None, data)
            info = await writer.commit()
            return StoredBytes(info.size, info.md5.hex(), info.blob_id, None)
        except BaseException:
            if writer is not None:
                await writer.abort()
            raise

    async def put(self, principal: Principal, bucket_ref: str, key: str, body: AsyncIterator[bytes], *,
                  content_type: str | None = None, headers: dict[str, str] | None = None,
                  user_meta: dict[str, str] | None = None, tags: dict[str, str] | None = None,
                  acl: str | Grants | None = None, storage_class: str | None = None,
                  hashers: Mapping[str, Hasher] | None = None, checksums: Checksums = None,
                  expected_size: int | None = None, if_match: str | None = None,
                  if_none_match: str | None = None, event: str = "ObjectCreated:Put") -> ObjectVersion:
        """Store a new version of `key`; `event` names it in notifications (S3 POST: Post)."""
        validate_object_key(key)
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutObject", key=key)
        _refuse_over_quota(bucket, expected_size or 0)
        stored_acl, owner = await self.kosha.access.new_object(principal, bucket, acl)
        stored = await self.ingest(body, hashers, expected_size)
        content = sql.Content(size=stored.size, etag=stored.md5_hex, blobs=stored.blobs,
                              inline_data=stored.inline)
        attrs = dict(content_type=content_type or "application/octet-stream",
                     storage_class=storage_class or "STANDARD", headers=headers or {},
                     user_meta=user_meta or {}, checksums=dict(_resolve(checksums)),
                     tags=tags or {}, acl=stored_acl, owner=owner)
        recorder = self.kosha.notifications.recorder(principal, [bucket], event)
        return await self._commit(stored.blobs, sql.commit_version, bucket.name, key, content, attrs,
                                  self.kosha.clock.now(), sql.Preconditions(if_match, if_none_match),
                                  recorder)

    async def _commit(self, new_blobs: list[list[Any]], fn: Callable[..., Any],
                      *args: Any) -> ObjectVersion:
        """Run a version commit; free what it freed; on failure, free the blobs it would have taken."""
        try:
            row, freed = await self.kosha.db.write(fn, *args)
        except BaseException:
            await self.kosha.blobs.delete(b[0] for b in new_blobs)
            raise
        if freed:  # the replaced bytes: their unlinking need not delay the answer
            self.kosha.in_background(self.kosha.blobs.delete(freed))
        return ObjectVersion.from_row(row)

    # -- reading ----------------------------------------------------------------------------
    async def head(self, principal: Principal, bucket_ref: str, key: str,
                   version_id: str | None = None, action: str = "kos:GetObject") -> ObjectVersion:
        buckets = self.kosha.buckets
        bucket = await buckets.resolve(principal, bucket_ref, action, key=key, version_id=version_id)
        found = await read_object(self.kosha, bucket.name, key, version_id)
        if found is None:
            if version_id is not None:
                raise NotFound("the specified version does not exist", s3_code="NoSuchVersion")
            raise NotFound(f"object {key!r} not found", s3_code="NoSuchKey")
        if found.is_delete_marker:
            if version_id is not None:
                raise MethodNotAllowed("the specified method is not allowed against a delete marker",
                                       delete_marker=True, version_id=found.version_id,
                                       last_modified=found.last_modified)
            raise NotFound(f"object {key!r} not found", s3_code="NoSuchKey", delete_marker=True,
                           version_id=found.version_id)
        return found

    async def get(self, principal: Principal, bucket_ref: str, key: str, version_id: str | None,
                  answer: Callable[[ObjectVersion], Awaitable[tuple[R, Span | None]]],
                  ) -> tuple[R, AsyncIterator[bytes] | None]:
        """`answer`'s reply for the version (HEAD's checks), and the bytes of the span it asks
        for with their blobs already open. An overwrite or delete that committed after the row
        was read may have dropped a blob: then the row is read again (the latest version now,
        or NoSuchKey/NoSuchVersion) and answered again, so a reply never mixes two versions."""
        for _ in range(READ_ATTEMPTS):
            version = await self.head(principal, bucket_ref, key, version_id)
            reply, span = await answer(version)
            if span is None:
                return reply, None
            try:
                return reply, await self.open(version, *span)
            except FileNotFoundError:
                continue
        raise Unavailable(f"object {key!r} kept changing while it was read; retry")

    async def open(self, version: ObjectVersion, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes `start`..`end` of a version, its first PINNED_BLOBS blobs opened now (so
        they stay readable whatever commits next): FileNotFoundError if one is gone already."""
        if version.inline_data is not None:
            return _once(version.inline_data[start:end])
        pieces = list(_pieces(version, start, end))
        opened: list[BlobReader] = []
        try:
            for blob_id, lo, hi in pieces[:PINNED_BLOBS]:
                opened.append(await self.kosha.blobs.open_read(blob_id, lo, hi))
        except BaseException:
            await _close(opened)
            raise
        return self._chain(opened, pieces[PINNED_BLOBS:])

    async def _chain(self, opened: list[BlobReader],
                     rest: list[tuple[str, int, int]]) -> AsyncIterator[bytes]:
        try:
            for reader in opened:
                async for chunk in reader:
                    yield chunk
            for blob_id, lo, hi in rest:
                async for chunk in self.kosha.blobs.read(blob_id, lo, hi):
                    yield chunk
        finally:
            await _close(opened)

    async def read(self, version: ObjectVersion, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes `start`..`end` (exclusive) of a version, streamed across its blobs."""
        end = version.size if end is None else min(end, version.size)
        if version.inline_data is not None:
            if start < end:
                yield version.inline_data[start:end]
            return
        for blob_id, lo, hi in _pieces(version, start, end):
            async for chunk in self.kosha.blobs.read(blob_id, lo, hi):
                yield chunk

    # -- deleting, copying, renaming --------------------------------------------------------
    async def delete(self, principal: Principal, bucket_ref: str, key: str,
                     version_id: str | None = None, if_match: str | None = None) -> DeleteResult:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:DeleteObject", key=key)
        recorder = self.kosha.notifications.recorder(principal, [bucket])
        vid, marker, freed = await self.kosha.db.write(
            sql.delete_version, bucket.name, key, version_id, self.kosha.clock.now(),
            principal.kcid or None, sql.Preconditions(if_match=if_match) if if_match else None,
            recorder)
        await self.kosha.blobs.delete(freed)
        return DeleteResult(None if vid == sql.NULL_VERSION and not bucket.versioning else vid, marker)

    async def delete_existing(self, principal: Principal, bucket_ref: str, key: str,
                              version_id: str | None = None) -> DeleteResult:
        """The KOS delete: like S3's, but a key or version that does not exist is a 404."""
        if version_id is None:
            await self.head(principal, bucket_ref, key, action="kos:DeleteObject")
        else:   # a delete marker is a version too: deleting it undeletes the object
            bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:DeleteObject", key=key)
            if await self.kosha.db.read(sql.version, bucket.name, key, version_id) is None:
                raise NotFound("the specified version does not exist", s3_code="NoSuchVersion")
        return await self.delete(principal, bucket_ref, key, version_id)

    async def restore(self, principal: Principal, bucket_ref: str, key: str,
                      version_id: str) -> ObjectVersion:
        """Make an older version current again: a new version sharing its blobs, so no byte is
        copied and the versions in between stay. The current version is answered as it is."""
        try:
            found = await self.head(principal, bucket_ref, key, version_id)
        except MethodNotAllowed:
            raise Unprocessable(f"version {version_id!r} is a delete marker: delete it instead "
                                "to uncover the version beneath") from None
        if found.is_latest:
            return found
        return await self.copy(principal, bucket_ref, key, bucket_ref, key, src_version_id=version_id)

    async def copy(self, principal: Principal, src_bucket_ref: str, src_key: str, dst_bucket_ref: str,
                   dst_key: str, *, src_version_id: str | None = None,
                   replace_metadata: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
                   acl: str | Grants | None = None, storage_class: str | None = None,
                   if_match: str | None = None, if_none_match: str | None = None) -> ObjectVersion:
        """A new version of `dst_key` sharing the source's blobs: cost independent of size."""
        validate_object_key(dst_key)
        src = await self.kosha.buckets.resolve(principal, src_bucket_ref, "kos:GetObject", key=src_key)
        if self.kosha.buckets.foreign(principal, src):
            await self.head(principal, src.name, src_key, src_version_id)   # the object's ACL
        dst = await self.kosha.buckets.resolve(principal, dst_bucket_ref, "kos:PutObject", key=dst_key)
        stored_acl, owner = await self.kosha.access.new_object(principal, dst, acl)
        overrides: dict[str, Any] = {"owner": owner}
        if replace_metadata is not None:
            overrides.update(content_type=replace_metadata.get("content_type") or "application/octet-stream",
                             headers=replace_metadata.get("headers") or {},
                             user_meta=replace_metadata.get("user_meta") or {})
        if tags is not None:
            overrides["tags"] = tags
        overrides["acl"] = stored_acl     # S3: a copy gets the ACL asked for, else private
        if storage_class is not None:
            overrides["storage_class"] = storage_class
        pre = sql.Preconditions(if_match, if_none_match) if (if_match or if_none_match) else None
        recorder = self.kosha.notifications.recorder(principal, [dst], "ObjectCreated:Copy")
        return await self._commit([], sql.copy_version, src.name, src_key, src_version_id, dst.name,
                                  dst_key, overrides, self.kosha.clock.now(), pre, recorder)

    async def move(self, principal: Principal, bucket_ref: str, src_key: str, dst_key: str) -> ObjectVersion:
        """Copy then delete the source, in one transaction (KOS move and rename)."""
        validate_object_key(dst_key)
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutObject", key=dst_key)
        await self.kosha.buckets.resolve(principal, bucket_ref, "kos:DeleteObject", key=src_key)
        if src_key == dst_key:
            return await self.head(principal, bucket_ref, src_key)
        recorder = self.kosha.notifications.recorder(principal, [bucket], "ObjectCreated:Copy")
        return await self._commit([], _move, bucket.name, src_key, bucket.name, dst_key,
                                  principal.kcid or None, self.kosha.clock.now(), recorder)

    async def relocate(self, principal: Principal, src_bucket_ref: str, src_key: str,
                       dst_bucket_ref: str, dst_key: str, *, remove_source: bool) -> ObjectVersion:
        """KOS copy or move to another bucket of the caller's account: the new version shares
        the source's blobs, so the cost does not grow with the object's size. A move needs
        kos:GetObject and kos:DeleteObject on the source and kos:PutObject on the destination,
        and copies then deletes in one transaction. Another account's bucket is refused as it
        would be anywhere on the KOS API (404, or 403 where that bucket is shared)."""
        validate_object_key(dst_key)
        buckets = self.kosha.buckets
        src = await buckets.resolve(principal, src_bucket_ref, "kos:GetObject", key=src_key)
        if buckets.foreign(principal, src):
            raise buckets.denied(principal, src)
        if remove_source:
            await buckets.resolve(principal, src_bucket_ref, "kos:DeleteObject", key=src_key)
        dst = await buckets.resolve(principal, dst_bucket_ref, "kos:PutObject", key=dst_key)
        if buckets.foreign(principal, dst):
            raise buckets.denied(principal, dst)
        now, owner = self.kosha.clock.now(), principal.kcid or None
        recorder = self.kosha.notifications.recorder(principal, [src, dst], "ObjectCreated:Copy")
        if not remove_source:
            return await self._commit([], sql.copy_version, src.name, src_key, None, dst.name,
                                      dst_key, {"owner": owner}, now, None, recorder)
        if src.name == dst.name and src_key == dst_key:
            return await self.head(principal, src.name, src_key)
        return await self._commit([], _move, src.name, src_key, dst.name, dst_key, owner, now,
                                  recorder)

    async def update_version(self, principal: Principal, bucket_ref: str, key: str,
                             version_id: str | None = None, *, tags: dict[str, str] | None = None,
                             acl: str | None = None) -> ObjectVersion:
        action = "kos:PutObjectTagging" if acl is None else "kos:PutObjectAcl"
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, action, key=key)
        values: dict[str, Any] = {}
        if tags is not None:
            values["tags"] = tags
        if acl is not None:
            values["acl"] = acl
        row = await self.kosha.db.write(sql.update_attrs, bucket.name, key, version_id, values)
        return ObjectVersion.from_row(row)

    async def put_acl(self, principal: Principal, bucket_ref: str, key: str,
                      version_id: str | None, canned: str | None,
                      grants: Grants | None) -> ObjectVersion:
        """Replace an object version's ACL (a canned ACL or explicit grants)."""
        current = await self.head(principal, bucket_ref, key, version_id, action="kos:PutObjectAcl")
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutObjectAcl",
                                                  key=key, version_id=version_id)
        stored = await self.kosha.access.put_object_acl(principal, bucket, current, canned, grants)
        row = await self.kosha.db.write(sql.update_attrs, bucket.name, key, current.version_id,
                                        {"acl": stored})
        return ObjectVersion.from_row(row)

    # -- listing ----------------------------------------------------------------------------
    async def list(self, principal: Principal, bucket_ref: str, *, prefix: str = "",
                   delimiter: str | None = None, start_after: str | None = None,
                   max_keys: int = 1000) -> ObjectListing:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:ListBucket")
        if max_keys < 0:
            raise Invalid("max-keys must not be negative")
        if max_keys == 0:  # S3: an empty page that is not truncated
            return ObjectListing([], [], False, None)
        rows, prefixes, truncated, last = await self.kosha.db.read(
            sql.list_latest, bucket.name, prefix or "", delimiter or None, start_after, max_keys)
        return ObjectListing([ObjectVersion.from_row(r) for r in rows], prefixes, truncated,
                             last if truncated else None)

    async def list_versions(self, principal: Principal, bucket_ref: str, *, prefix: str = "",
                            delimiter: str | None = None, key_marker: str | None = None,
                            version_id_marker: str | None = None, max_keys: int = 1000) -> VersionListing:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:ListBucket")
        rows, prefixes, truncated, next_key, next_vid = await self.kosha.db.read(
            sql.list_versions, bucket.name, prefix or "", delimiter or None, key_marker,
            version_id_marker, max_keys)
        return VersionListing([ObjectVersion.from_row(r) for r in rows], prefixes, truncated,
                              next_key if truncated else None, next_vid if truncated else None)

    async def versions_of(self, principal: Principal, bucket_ref: str, key: str, *,
                          max_keys: int = 1000, after: str | None = None) -> VersionListing:
        """One key's versions, newest first, `max_keys` at a time after version `after`."""
        validate_object_key(key)
        listing = await self.list_versions(principal, bucket_ref, prefix=key,
                                           key_marker=key if after else None,
                                           version_id_marker=after, max_keys=max_keys + 1)
        mine = [v for v in listing.versions if v.key == key]   # the prefix holds longer keys too
        page, truncated = mine[:max_keys], len(mine) > max_keys
        return VersionListing(page, [], truncated, key if truncated else None,
                              page[-1].version_id if truncated else None)

    # -- garbage ----------------------------------------------------------------------------
    def collect_garbage(self, grace_seconds: float = 3600) -> dict[str, int]:
        """Remove blobs no committed row references, and temp files of writes that never ended.

        Runs from a thread or the CLI. `grace_seconds` protects blobs written just now whose
        metadata commit is still in flight.
        """
        deployment = self.kosha.db.read_sync(identity.deployment_id)
        if deployment is not None:
            check_owner(self.kosha.blobs, deployment, self.kosha.blob_location.display)
        cutoff = self.kosha.clock.now() - grace_seconds
        dead_writers = getattr(self.kosha.blobs, "clean_dead_writers", None)
        tmp_removed = (dead_writers() if dead_writers is not None else 0) + self.kosha.blobs.clean_tmp(cutoff)
        candidates = [blob_id for blob_id, mtime in self.kosha.blobs.list_ids() if mtime < cutoff]
        orphans: list[str] = []
        for i in range(0, len(candidates), 500):
            chunk = candidates[i:i + 500]
            known = self.kosha.db.read_sync(blob_refs.known, chunk)
            orphans += [b for b in chunk if b not in known]
        self.kosha.blobs.delete_sync(orphans)
        return {"orphan_blobs_removed": len(orphans), "temp_files_removed": tmp_removed}


def _move(conn: Any, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
          owner: str | None, now: float, events: Any = None) -> Any:
    row, freed = sql.copy_version(conn, src_bucket, src_key, None, dst_bucket, dst_key, {}, now,
                                  events=events)
    _vid, _marker, more = sql.delete_version(conn, src_bucket, src_key, None, now, owner,
                                             events=events)
    return row, freed + more


def _pieces(version: ObjectVersion, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(blob id, first byte, end) of each blob holding part of bytes `start`..`end`."""
    offset = 0
    for blob_id, size in version.blobs:
        lo, hi = max(start - offset, 0), min(end - offset, size)
        if lo < hi:
            yield blob_id, lo, hi
        offset += size
        if offset >= end:
            return


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _close(readers: list[BlobReader]) -> None:
    for reader in readers:
        await reader.aclose()


async def read_object(kosha: Kosha, bucket: str, key: str,
                      version_id: str | None) -> ObjectVersion | None:
    """A version of `key` (the latest without `version_id`), answered from the database's memo
    while nothing was written since (Database.read_memo). The memo keeps the ObjectVersion, not
    the row: building it costs a small GET more than the memo's look-up. Callers share the
    instance and must not change it."""
    return await kosha.db.read_memo(("version", bucket, key, version_id), _read_version,
                                    bucket, key, version_id, keep=_small)


def _read_version(conn: Any, bucket: str, key: str, version_id: str | None) -> ObjectVersion | None:
    row = sql.read_version(conn, bucket, key, version_id)
    return None if row is None else ObjectVersion.from_row(row)


def _small(found: ObjectVersion | None) -> bool:
    """Worth remembering: metadata, and the bytes of objects up to MEMO_INLINE_BYTES."""
    return found is None or found.inline_data is None or len(found.inline_data) <= MEMO_INLINE_BYTES


def _resolve(checksums: Checksums) -> Mapping[str, str]:
    if checksums is None:
        return {}
    return checksums() if callable(checksums) else checksums


def _refuse_over_quota(bucket: Bucket, incoming: int) -> None:
    if bucket.allocated_capacity is not None and bucket.used_capacity + incoming > bucket.allocated_capacity:
        raise QuotaExceeded(f"bucket quota of {bucket.allocated_capacity} bytes would be exceeded; "
                            "nothing was stored")
