"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads."""

from __future__ import annotations

import hashlib
from typing import Any

from ..errors import Invalid, KoshaError
from ..services.models import ObjectVersion
from . import xml
from .acl import owner_xml
from .bucket import iso8601
from .conditions import parse_copy_range
from .copy import source_version
from .list import url_encoder
from .put import (add_checksum_headers, checksum_finalizer, declared_length, object_attrs)
from .request import S3Request, S3Response, empty_response, xml_response
from ..checksums import ALGORITHMS, checksum_type
from ..services.multipart_checksums import CompletionChecksums
from .xml import el, opt

MAX_PART_SIZE = 5 * 1024 ** 3


def _upload_id(req: S3Request) -> str:
    upload_id = req.query.get("uploadId")
    if not upload_id:
        raise Invalid("The specified upload does not exist.", s3_code="NoSuchUpload")
    return upload_id


def _no_such_upload(e: KoshaError, req: S3Request) -> KoshaError:
    """The services say NotFound; S3 says NoSuchUpload for a missing upload id."""
    if e.status == 404 and e.s3_code not in ("NoSuchBucket", "NoSuchUpload", "NoSuchKey"):
        from ..errors import NotFound
        return NotFound("The specified upload does not exist. The upload ID may be invalid, or "
                        "the upload may have been aborted or completed.",
                        s3_code="NoSuchUpload", UploadId=req.query.get("uploadId"))
    return e


async def create_multipart_upload(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    upload_id = await req.kosha.multipart.create(
        req.principal, bucket.name, req.key, checksum_algorithm=req.headers.get("x-amz-checksum-algorithm"),
        checksum_type=req.headers.get("x-amz-checksum-type"), **object_attrs(req))
    body = xml.doc("InitiateMultipartUploadResult", el("Bucket", bucket.name),
                   el("Key", req.key), el("UploadId", upload_id))
    resp = xml_response(body)
    upload = await req.kosha.multipart.get(req.principal, bucket.name, req.key, upload_id)
    if upload.checksum_algorithm:
        resp.add("x-amz-checksum-algorithm", upload.checksum_algorithm)
        resp.add("x-amz-checksum-type", upload.checksum_type or "COMPOSITE")
    return resp


def _part_number(req: S3Request) -> int:
    n = req.int_query("partNumber", None, lo=1, hi=10000)
    assert n is not None
    return n


async def upload_part(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    upload_id = _upload_id(req)
    part_number = _part_number(req)
    length = declared_length(req)
    if length is not None and length > MAX_PART_SIZE:
        raise Invalid("Your proposed upload exceeds the maximum allowed size",
                      s3_code="EntityTooLarge", ProposedSize=length, MaxSizeAllowed=MAX_PART_SIZE)
    payload = req.payload()
    try:
        part = await req.kosha.multipart.upload_part(
            req.principal, bucket.name, req.key, upload_id, part_number, payload,
            checksums=checksum_finalizer(payload), expected_size=length,
            verified_algorithm=payload.checksum.algorithm if payload.checksum else None)
    except KoshaError as e:
        raise _no_such_upload(e, req) from None
    resp = empty_response(200)
    resp.add("etag", f'"{part.etag}"')
    add_checksum_headers(resp, part.checksums)
    return resp


async def upload_part_copy(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    upload_id = _upload_id(req)
    part_number = _part_number(req)
    src_bucket, src_key, src = await source_version(req)
    rng = parse_copy_range(req.headers.get("x-amz-copy-source-range"), src.size)
    try:
        part = await req.kosha.multipart.upload_part_copy(
            req.principal, bucket.name, req.key, upload_id, part_number, src_bucket.name,
            src_key, src_version_id=src.version_id, byte_range=rng)
    except KoshaError as e:
        raise _no_such_upload(e, req) from None
    body = xml.doc("CopyPartResult", el("LastModified", iso8601(part.last_modified)),
                   el("ETag", f'"{part.etag}"'))
    resp = xml_response(body)
    if src_bucket.versioning:
        resp.add("x-amz-copy-source-version-id", src.version_id)
    return resp


def _declared_checksums(req: S3Request) -> dict[str, str]:
    return {alg.upper(): req.headers[name] for alg in ALGORITHMS
            if (name := "x-amz-checksum-" + alg) in req.headers}


def _parse_complete(body: bytes) -> tuple[list[tuple[int, str]], list[dict[str, str]]]:
    root = xml.parse(body, root="CompleteMultipartUpload")
    parts: list[tuple[int, str]] = []
    checksums: list[dict[str, str]] = []
    for node in xml.children(root, "Part"):
        number = xml.int_text(node, "PartNumber")
        etag = xml.text(node, "ETag")
        if number is None or etag is None:
            raise xml.malformed()
        parts.append((number, etag.strip().strip('"')))
        sums = {}
        for alg in ALGORITHMS:
            v = xml.text(node, "Checksum" + alg.upper())
            if v:
                sums[alg.upper()] = v.strip()
        checksums.append(sums)
    if not parts:
        raise Invalid("The XML you provided was not well-formed or did not validate against "
                      "our published schema", s3_code="MalformedXML")
    return parts, checksums


async def complete_multipart_upload(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    upload_id = _upload_id(req)
    parts, part_sums = _parse_complete(await req.read_body(4 * 1024 * 1024, body_checksum=False))
    numbers = [n for n, _ in parts]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise Invalid("The list of parts was not in ascending order. Parts must be ordered by "
                      "part number.", s3_code="InvalidPartOrder")
    try:
        checksums = CompletionChecksums(part_sums, _declared_checksums(req),
                                        req.headers.get("x-amz-checksum-type"))
        version = await req.kosha.multipart.complete(
            req.principal, bucket.name, req.key, upload_id, parts, checksums=checksums,
            if_match=req.headers.get("if-match"), if_none_match=req.headers.get("if-none-match"))
    except KoshaError as e:
        e = _no_such_upload(e, req)
        done = await _completed_before(req, bucket.name, parts) \
            if e.s3_code == "NoSuchUpload" else None
        if done is None:
            raise e from None
        version = done
    location = f"/{bucket.name}/{req.key}"
    body = xml.doc(
        "CompleteMultipartUploadResult", el("Location", location), el("Bucket", bucket.name),
        el("Key", req.key), el("ETag", version.quoted_etag),
        "".join(el("Checksum" + a.upper(), v) for a, v in version.checksums.items()),
        opt("ChecksumType", checksum_type(version.checksums)))
    resp = xml_response(body)
    if bucket.versioning and version.version_id != "null":
        resp.add("x-amz-version-id", version.version_id)
    return resp


async def _completed_before(req: S3Request, bucket: str,
                            parts: list[tuple[int, str]]) -> ObjectVersion | None:
    """A retried CompleteMultipartUpload of an upload that already completed succeeds again, as
    S3's does (clients retry completes whose answer they lost): the upload is gone, but the
    current object is the one these parts made when its ETag (the MD5 of exactly these parts'
    MD5s, and their count) says so."""
    assert req.key is not None
    try:
        digest = hashlib.md5(b"".join(bytes.fromhex(etag) for _, etag in parts)).hexdigest()
    except ValueError:
        return None
    try:
        current = await req.kosha.objects.head(req.principal, bucket, req.key)
    except KoshaError:
        return None
    if current.etag != f"{digest}-{len(parts)}" or len(current.part_sizes or ()) != len(parts):
        return None
    return current


async def abort_multipart_upload(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    try:
        await req.kosha.multipart.abort(req.principal, bucket.name, req.key, _upload_id(req))
    except KoshaError as e:
        raise _no_such_upload(e, req) from None
    return empty_response(204)


async def list_parts(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    upload_id = _upload_id(req)
    max_parts = req.int_query("max-parts", 1000, lo=0, hi=2147483647) or 0
    max_parts = min(max_parts, 1000)
    marker = req.int_query("part-number-marker", 0, lo=0, hi=2147483647) or 0
    try:
        upload, parts, truncated = await req.kosha.multipart.list_parts(
            req.principal, bucket.name, req.key, upload_id, max_parts, marker)
    except KoshaError as e:
        raise _no_such_upload(e, req) from None
    items = []
    for p in parts:
        sums = "".join(el("Checksum" + a.upper(), v) for a, v in (p.checksums or {}).items())
        items.append(f"<Part>{el('PartNumber', p.part_number)}"
                     f"{el('LastModified', iso8601(p.last_modified))}"
                     f"{el('ETag', chr(34) + p.etag + chr(34))}{el('Size', p.size)}{sums}</Part>")
    owner = owner_xml(upload.owner or bucket.owner)
    body = xml.doc(
        "ListPartsResult", el("Bucket", bucket.name), el("Key", req.key),
        el("UploadId", upload_id), owner_xml(upload.owner or bucket.owner, "Initiator"), owner,
        el("StorageClass", upload.storage_class or "STANDARD"),
        el("PartNumberMarker", marker),
        opt("NextPartNumberMarker", parts[-1].part_number if parts else None),
        el("MaxParts", max_parts), el("IsTruncated", bool(truncated)),
        opt("ChecksumAlgorithm", upload.checksum_algorithm),
        opt("ChecksumType", upload.checksum_type),
        items)
    return xml_response(body)


async def list_multipart_uploads(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    q = req.query
    enc_type, encode = url_encoder(req)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    key_marker = q.get("key-marker") or None
    upload_id_marker = (q.get("upload-id-marker") or None) if key_marker else None
    max_uploads = req.int_query("max-uploads", 1000, lo=0, hi=2147483647)
    assert max_uploads is not None
    max_uploads = min(max_uploads, 1000)
    uploads: list[Any] = []
    prefixes: list[str] = []
    truncated = False
    if max_uploads > 0:
        fetched, truncated = await req.kosha.multipart.list_uploads(
            req.principal, bucket.name, prefix=prefix, key_marker=key_marker,
            upload_id_marker=upload_id_marker, max_uploads=max_uploads)
        if delimiter:
            seen: set[str] = set()
            for u in fetched:
                rest = u.key[len(prefix):]
                i = rest.find(delimiter)
                if i >= 0:
                    p = prefix + rest[:i + len(delimiter)]
                    if p not in seen:
                        seen.add(p)
                        prefixes.append(p)
                else:
                    uploads.append(u)
        else:
            uploads = fetched
    items = []
    for u in uploads:
        items.append(f"<Upload>{el('Key', encode(u.key))}{el('UploadId', u.upload_id)}"
                     f"{owner_xml(u.owner or bucket.owner, 'Initiator')}"
                     f"{owner_xml(u.owner or bucket.owner)}"
                     f"{el('StorageClass', u.storage_class or 'STANDARD')}"
                     f"{el('Initiated', iso8601(u.initiated))}"
                     f"{opt('ChecksumAlgorithm', u.checksum_algorithm)}</Upload>")
    last = uploads[-1] if uploads else None
    body = xml.doc(
        "ListMultipartUploadsResult", el("Bucket", bucket.name),
        el("KeyMarker", encode(key_marker or "")), el("UploadIdMarker", upload_id_marker or ""),
        opt("NextKeyMarker", encode(last.key) if truncated and last else None),
        opt("NextUploadIdMarker", last.upload_id if truncated and last else None),
        el("Prefix", encode(prefix)), opt("Delimiter", encode(delimiter) if delimiter else None),
        el("MaxUploads", max_uploads), opt("EncodingType", enc_type),
        el("IsTruncated", bool(truncated)), items,
        "".join(f"<CommonPrefixes>{el('Prefix', encode(p))}</CommonPrefixes>" for p in prefixes))
    return xml_response(body)
