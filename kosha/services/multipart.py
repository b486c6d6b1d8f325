"""Multipart uploads: each part is a blob; completion stitches the parts' blobs into one
object's manifest without copying a byte."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Invalid, NotFound
from ..ids import bucket_name_from_ref, validate_object_key
from ..store import multipart as sql
from ..store import objects as objects_sql
from ..store.blobs import Hasher
from .models import ObjectVersion
from .multipart_checksums import (CompletionChecksums, object_checksum, part_checksums,
                                  part_hasher, upload_checksum)
from .objects import Checksums, _resolve
from .principal import Principal

if TYPE_CHECKING:
    from .container import Kosha

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10000
_HEADER_SAFE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _header_safe(value: str | None, name: str) -> None:
    """A value every download of the object sends back as a header: a line break, another
    control character or a character beyond Latin-1 would make each of those GETs fail."""
    if value is not None and not _HEADER_SAFE.fullmatch(value):
        raise Invalid(f"'{name}' holds characters an HTTP header cannot carry "
                      "(line breaks, control characters)")


@dataclass
class Part:
    part_number: int
    etag: str
    size: int
    last_modified: float = 0.0
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    owner: str | None
    storage_class: str
    checksum_algorithm: str | None
    checksum_type: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    acl: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Upload:
        m = row._mapping
        return cls(upload_id=m["upload_id"], bucket=m["bucket"], key=m["key"], initiated=m["initiated"],
                   owner=m["owner"], storage_class=m["storage_class"],
                   checksum_algorithm=m["checksum_algorithm"], checksum_type=m["checksum_type"],
                   content_type=m["content_type"],
                   headers=m["headers"] or {}, user_meta=m["user_meta"] or {}, tags=m["tags"] or {},
                   acl=m["acl"])


def _part(row: Any) -> Part:
    return Part(row.part_number, row.etag, row.size, row.last_modified, row.checksums or {})


class MultipartService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha

    async def create(self, principal: Principal, bucket_ref: str, key: str, *,
                     content_type: str | None = None, headers: dict[str, str] | None = None,
                     user_meta: dict[str, str] | None = None, tags: dict[str, str] | None = None,
                     acl: Any = None, storage_class: str | None = None,
                     checksum_algorithm: str | None = None, checksum_type: str | None = None) -> str:
        validate_object_key(key)
        checksum_algorithm, checksum_type = upload_checksum(checksum_algorithm, checksum_type)
        _header_safe(content_type, "contentType")
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutObject", key=key)
        stored_acl, owner = await self.kosha.access.new_object(principal, bucket, acl)
        upload_id = secrets.token_urlsafe(32)
        await self.kosha.db.write(sql.create_upload, dict(
            upload_id=upload_id, bucket=bucket.name, key=key, owner=owner,
            content_type=content_type, headers=headers or {}, user_meta=user_meta or {},
            tags=tags or {}, acl=stored_acl, storage_class=storage_class or "STANDARD",
            checksum_algorithm=checksum_algorithm, checksum_type=checksum_type,
            initiated=self.kosha.clock.now()))
        return upload_id

    async def get(self, principal: Principal, bucket_ref: str, key: str | None, upload_id: str) -> Upload:
        """The upload, if the caller may write its key. Without `key` (the KOS REST routes name
        an upload by its id alone) the upload's own key is the one authorized."""
        if key is None:
            key = await self._key_of(bucket_ref, upload_id)
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:PutObject", key=key)
        return Upload.from_row(await self.kosha.db.read(sql.get_upload, bucket.name, key, upload_id))

    async def _key_of(self, bucket_ref: str, upload_id: str) -> str:
        row = await self.kosha.db.read(sql.find_upload, bucket_name_from_ref(bucket_ref), upload_id)
        if row is None:
            raise NotFound("the specified multipart upload does not exist", s3_code="NoSuchUpload")
        return str(row.key)

    async def upload_part(self, principal: Principal, bucket_ref: str, key: str | None, upload_id: str,
                          part_number: int, body: AsyncIterator[bytes], *,
                          hashers: Mapping[str, Hasher] | None = None, checksums: Checksums = None,
                          expected_size: int | None = None,
                          verified_algorithm: str | None = None) -> Part:
        """`verified_algorithm`: the checksum the body's reader verifies and `checksums` returns."""
        _check_part_number(part_number)
        upload = await self.get(principal, bucket_ref, key, upload_id)
        hasher = part_hasher(upload.checksum_algorithm, verified_algorithm)
        if hasher is not None:
            hashers = {**(hashers or {}), "upload-checksum": hasher}
        stored = await self.kosha.objects.ingest(body, hashers, expected_size, inline_ok=False)
        assert stored.blob_id is not None
        try:
            sums = part_checksums(upload.checksum_algorithm, hasher, _resolve(checksums))
        except Invalid:
            await self.kosha.blobs.delete([stored.blob_id])
            raise
        part = dict(part_number=part_number, blob_id=stored.blob_id, size=stored.size,
                    etag=stored.md5_hex, checksums=sums)
        await self._record(upload, part, new_blob=True)
        return Part(part_number, stored.md5_hex, stored.size, self.kosha.clock.now(), part["checksums"])

    async def upload_part_copy(self, principal: Principal, bucket_ref: str, key: str, upload_id: str,
                               part_number: int, src_bucket_ref: str, src_key: str,
                               src_version_id: str | None = None,
                               byte_range: tuple[int, int] | None = None) -> Part:
        """A part from (a range of) another object; a whole single-blob source is shared, not copied."""
        _check_part_number(part_number)
        upload = await self.get(principal, bucket_ref, key, upload_id)

        async def plan(src: ObjectVersion) -> tuple[tuple[ObjectVersion, int, int, bool],
                                                     tuple[int, int] | None]:
            start, end, shared = _copy_span(src, byte_range)
            return (src, start, end, shared), (None if shared else (start, end))

        (src, start, end, shared), stream = await self.kosha.objects.get(
            principal, src_bucket_ref, src_key, src_version_id, plan)
        if shared:
            blob_id, size = src.blobs[0]
            sums = await self._copied_checksum(upload, src, start, end)
            part = dict(part_number=part_number, blob_id=blob_id, size=size, etag=src.etag, checksums=sums)
            await self._record(upload, part, new_blob=False)
            return Part(part_number, src.etag, size, self.kosha.clock.now(), sums)
        assert stream is not None   # the source's blobs, opened: an overwrite cannot drop them now
        hasher = part_hasher(upload.checksum_algorithm)
        stored = await self.kosha.objects.ingest(stream,
                                                 {"upload-checksum": hasher} if hasher else None,
                                                 inline_ok=False)
        assert stored.blob_id is not None
        sums = part_checksums(upload.checksum_algorithm, hasher, {})
        part = dict(part_number=part_number, blob_id=stored.blob_id, size=stored.size,
                    etag=stored.md5_hex, checksums=sums)
        await self._record(upload, part, new_blob=True)
        return Part(part_number, stored.md5_hex, stored.size, self.kosha.clock.now(), sums)

    async def _copied_checksum(self, upload: Upload, src: ObjectVersion, start: int,
                               end: int) -> dict[str, str]:
        """A shared (not copied) part's checksum: the source's own whole-object value when it
        has one of the upload's algorithm, else computed by reading the source once."""
        algorithm = upload.checksum_algorithm
        if algorithm is None:
            return {}
        own = (src.checksums or {}).get(algorithm)
        if own is not None and "-" not in own:
            return {algorithm: own}
        hasher = part_hasher(algorithm)
        assert hasher is not None
        async for chunk in self.kosha.objects.read(src, start, end):
            hasher.update(chunk)
        return {algorithm: hasher.b64digest()}

    async def _record(self, upload: Upload, part: dict[str, Any], new_blob: bool) -> None:
        try:
            freed = await self.kosha.db.write(sql.put_part, upload.bucket, upload.key, upload.upload_id,
                                              part, self.kosha.clock.now(), new_blob)
        except BaseException:
            if new_blob:
                await self.kosha.blobs.delete([part["blob_id"]])
            raise
        await self.kosha.blobs.delete(freed)

    async def complete(self, principal: Principal, bucket_ref: str, key: str | None, upload_id: str,
                       parts: list[tuple[int, str]], checksums: CompletionChecksums | None = None,
                       if_match: str | None = None, if_none_match: str | None = None) -> ObjectVersion:
        upload = await self.get(principal, bucket_ref, key, upload_id)
        bucket = await self.kosha.buckets.resolve(principal, upload.bucket, "kos:PutObject", key=upload.key)
        if not parts:
            raise Invalid("you must specify at least one part", s3_code="MalformedXML")
        numbers = [n for n, _ in parts]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise Invalid("the list of parts was not in ascending order", s3_code="InvalidPartOrder")
        pre = objects_sql.Preconditions(if_match, if_none_match) if (if_match or if_none_match) else None
        recorder = self.kosha.notifications.recorder(principal, [bucket],
                                                     "ObjectCreated:CompleteMultipartUpload")
        return await self.kosha.objects._commit(
            [], _complete, upload, parts, checksums or CompletionChecksums(), self.kosha.clock.now(), pre,
            self.kosha.settings.min_part_size, recorder)

    async def abort(self, principal: Principal, bucket_ref: str, key: str | None, upload_id: str) -> None:
        upload = await self.get(principal, bucket_ref, key, upload_id)
        freed = await self.kosha.db.write(sql.finish_upload, upload.upload_id, set())
        await self.kosha.blobs.delete(freed)

    async def list_parts(self, principal: Principal, bucket_ref: str, key: str | None, upload_id: str,
                         max_parts: int = 1000, part_number_marker: int = 0
                         ) -> tuple[Upload, list[Part], bool]:
        upload = await self.get(principal, bucket_ref, key, upload_id)
        rows = await self.kosha.db.read(sql.parts, upload_id, part_number_marker, max_parts + 1)
        return upload, [_part(r) for r in rows[:max_parts]], len(rows) > max_parts

    async def list_uploads(self, principal: Principal, bucket_ref: str, *, prefix: str = "",
                           key_marker: str | None = None, upload_id_marker: str | None = None,
                           max_uploads: int = 1000) -> tuple[list[Upload], bool]:
        bucket = await self.kosha.buckets.resolve(principal, bucket_ref, "kos:ListBucket")
        rows = await self.kosha.db.read(sql.list_uploads, bucket.name, prefix, key_marker,
                                        upload_id_marker, max_uploads + 1)
        return [Upload.from_row(r) for r in rows[:max_uploads]], len(rows) > max_uploads


def _check_part_number(n: int) -> None:
    if not 1 <= n <= MAX_PART_NUMBER:
        raise Invalid(f"part number must be an integer between 1 and {MAX_PART_NUMBER}",
                      s3_code="InvalidArgument")


def _complete(conn: Any, upload: Upload, wanted: list[tuple[int, str]], request: CompletionChecksums,
              now: float, pre: objects_sql.Preconditions | None, min_part_size: int,
              events: objects_sql.Events | None = None) -> Any:
    sql.get_upload(conn, upload.bucket, upload.key, upload.upload_id, lock=True)
    stored = {r.part_number: r for r in sql.parts(conn, upload.upload_id)}
    chosen = []
    for i, (number, etag) in enumerate(wanted):
        row = stored.get(number)
        if row is None or row.etag != etag.strip().strip('"'):
            raise Invalid("one or more of the specified parts could not be found or its entity tag "
                          "did not match", s3_code="InvalidPart")
        if i < len(wanted) - 1 and row.size < min_part_size:
            raise Invalid("your proposed upload is smaller than the minimum allowed object size",
                          s3_code="EntityTooSmall")
        chosen.append(row)
    checksums = object_checksum(upload.checksum_algorithm, upload.checksum_type, chosen, request)
    digest = hashlib.md5(b"".join(bytes.fromhex(r.etag) for r in chosen)).hexdigest()
    content = objects_sql.Content(
        size=sum(r.size for r in chosen), etag=f"{digest}-{len(chosen)}",
        blobs=[[r.blob_id, r.size] for r in chosen], part_sizes=[r.size for r in chosen],
        part_checksums=[r.checksums[alg] for r in chosen] if (alg := upload.checksum_algorithm) else None,
        blob_mode="adopt")
    attrs = dict(content_type=upload.content_type or "application/octet-stream",
                 storage_class=upload.storage_class, headers=upload.headers, user_meta=upload.user_meta,
                 checksums=checksums, tags=upload.tags, acl=upload.acl, owner=upload.owner)
    row, freed = objects_sql.commit_version(conn, upload.bucket, upload.key, content, attrs, now, pre,
                                            events)
    freed += sql.finish_upload(conn, upload.upload_id, keep={r.part_number for r in chosen})
    return row, freed


def _copy_span(src: ObjectVersion, byte_range: tuple[int, int] | None) -> tuple[int, int, bool]:
    """(start, end, shared) of an UploadPartCopy: shared when the part can be the source's one
    blob itself, with no byte copied."""
    if byte_range is not None:
        first, last = byte_range
        if first < 0 or last < first or last >= src.size:
            raise Invalid("the x-amz-copy-source-range value is not within the source object",
                          s3_code="InvalidRange", status=416)
    whole = byte_range is None or (byte_range[0] == 0 and byte_range[1] == src.size - 1)
    start, end = (0, src.size) if byte_range is None else (byte_range[0], byte_range[1] + 1)
    return start, end, whole and len(src.blobs) == 1 and "-" not in src.etag
