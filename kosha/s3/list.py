"""ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote

from ..errors import Invalid
from ..services.models import ObjectVersion
from . import xml
from .acl import owner_xml
from .bucket import iso8601
from .request import S3Request, S3Response, xml_response
from .xml import el, opt

MAX_KEYS = 1000


def url_encoder(req: S3Request) -> tuple[str | None, Callable[[str], str]]:
    enc = req.query.get("encoding-type")
    if enc is None:
        return None, _identity
    if enc.lower() != "url":
        raise Invalid("Invalid Encoding Method specified in Request",
                      s3_code="InvalidArgument", ArgumentName="encoding-type",
                      ArgumentValue=enc)
    return "url", _url


def _identity(s: str) -> str:
    return s


def _url(s: str) -> str:
    return quote(s.encode("utf-8"), safe="/-_.~")


def _max_keys(req: S3Request) -> int:
    raw = req.query.get("max-keys")
    if raw is None:
        return MAX_KEYS
    try:
        n = int(raw)
    except ValueError:
        raise Invalid("Provided max-keys not an integer or within integer range",
                      s3_code="InvalidArgument", ArgumentName="max-keys",
                      ArgumentValue=raw) from None
    if n < 0:
        raise Invalid("Argument maxKeys must be an integer between 0 and 2147483647",
                      s3_code="InvalidArgument", ArgumentName="maxKeys", ArgumentValue=raw)
    return min(n, MAX_KEYS)


def _checksum_algorithm(v: ObjectVersion) -> str:
    return "".join(el("ChecksumAlgorithm", alg.upper()) for alg in v.checksums)


def _contents(v: ObjectVersion, encode: Callable[[str], str], owner: bool, bucket_owner: str) -> str:
    parts = [
        "<Contents>", el("Key", encode(v.key)), el("LastModified", iso8601(v.last_modified)),
        el("ETag", v.quoted_etag), _checksum_algorithm(v), el("Size", v.size),
        el("StorageClass", v.storage_class or "STANDARD"),
    ]
    if owner:
        parts.append(owner_xml(v.owner or bucket_owner))
    parts.append("</Contents>")
    return "".join(parts)


def _prefixes(prefixes: list[str], encode: Callable[[str], str]) -> str:
    return "".join(f"<CommonPrefixes>{el('Prefix', encode(p))}</CommonPrefixes>"
                   for p in prefixes)


async def list_objects(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    q = req.query
    enc_type, encode = url_encoder(req)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    marker = q.get("marker") or None
    max_keys = _max_keys(req)
    listing = await req.kosha.objects.list(req.principal, bucket.name, prefix=prefix,
                                           delimiter=delimiter, start_after=marker,
                                           max_keys=max_keys)
    objects, prefixes = listing.objects, listing.prefixes
    truncated, next_marker = listing.is_truncated, listing.next_marker
    body = xml.doc(
        "ListBucketResult",
        # v1 echoes Prefix as sent even with encoding-type=url (S3 encodes Delimiter, Marker,
        # NextMarker and keys there; clients such as botocore decode exactly those).
        el("Name", bucket.name), el("Prefix", prefix), el("Marker", encode(marker or "")),
        el("MaxKeys", max_keys),
        opt("Delimiter", encode(delimiter) if delimiter else None),
        el("IsTruncated", bool(truncated)),
        opt("NextMarker", encode(next_marker) if truncated and delimiter and next_marker
            else None),
        opt("EncodingType", enc_type),
        (_contents(v, encode, True, bucket.owner) for v in objects),
        _prefixes(prefixes, encode),
    )
    return xml_response(body)


def _token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4)).decode(
            "utf-8")
    except (ValueError, UnicodeError):
        raise Invalid("The continuation token provided is incorrect",
                      s3_code="InvalidArgument", ArgumentName="continuation-token") from None


async def list_objects_v2(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    q = req.query
    enc_type, encode = url_encoder(req)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    token = q.get("continuation-token")
    start_after = q.get("start-after")
    fetch_owner = (q.get("fetch-owner") or "").lower() == "true"
    max_keys = _max_keys(req)
    if token:   # an empty token lists from the start (as Ceph RGW answers; echoed back)
        after = _untoken(token)
    else:
        after = start_after or None
    listing = await req.kosha.objects.list(req.principal, bucket.name, prefix=prefix,
                                           delimiter=delimiter, start_after=after,
                                           max_keys=max_keys)
    objects, prefixes = listing.objects, listing.prefixes
    truncated, next_marker = listing.is_truncated, listing.next_marker
    body = xml.doc(
        "ListBucketResult",
        el("Name", bucket.name), el("Prefix", encode(prefix)),
        opt("Delimiter", encode(delimiter) if delimiter else None),
        el("MaxKeys", max_keys),
        opt("EncodingType", enc_type),
        el("KeyCount", len(objects) + len(prefixes)),
        opt("ContinuationToken", token),
        opt("NextContinuationToken", _token(next_marker) if truncated and next_marker else None),
        opt("StartAfter", encode(start_after) if start_after is not None else None),
        el("IsTruncated", bool(truncated)),
        (_contents(v, encode, fetch_owner, bucket.owner) for v in objects),
        _prefixes(prefixes, encode),
    )
    return xml_response(body)


async def list_object_versions(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    q = req.query
    enc_type, encode = url_encoder(req)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter") or None
    key_marker = q.get("key-marker") or None
    vid_marker = q.get("version-id-marker") or None
    if vid_marker is not None and key_marker is None:
        raise Invalid("A version-id marker cannot be specified without a key marker.",
                      s3_code="InvalidArgument", ArgumentName="version-id-marker",
                      ArgumentValue=vid_marker)
    max_keys = _max_keys(req)
    if max_keys == 0:
        versions, prefixes, truncated, next_key, next_vid = [], [], False, None, None
    else:
        listing = await req.kosha.objects.list_versions(
            req.principal, bucket.name, prefix=prefix, delimiter=delimiter,
            key_marker=key_marker, version_id_marker=vid_marker, max_keys=max_keys)
        versions, prefixes = listing.versions, listing.prefixes
        truncated = listing.is_truncated
        next_key, next_vid = listing.next_key_marker, listing.next_version_id_marker
    items = []
    for v in versions:
        common = (el("Key", encode(v.key)) + el("VersionId", v.version_id)
                  + el("IsLatest", bool(v.is_latest))
                  + el("LastModified", iso8601(v.last_modified)))
        if v.is_delete_marker:
            items.append(f"<DeleteMarker>{owner_xml(v.owner or bucket.owner)}{common}"
                         "</DeleteMarker>")
        else:
            items.append(f"<Version>{common}{el('ETag', v.quoted_etag)}"
                         f"{_checksum_algorithm(v)}{el('Size', v.size)}"
                         f"{el('StorageClass', v.storage_class or 'STANDARD')}"
                         f"{owner_xml(v.owner or bucket.owner)}</Version>")
    body = xml.doc(
        "ListVersionsResult",
        el("Name", bucket.name), el("Prefix", encode(prefix)),
        el("KeyMarker", encode(key_marker or "")), el("VersionIdMarker", vid_marker or ""),
        opt("NextKeyMarker", encode(next_key) if truncated and next_key else None),
        opt("NextVersionIdMarker", next_vid if truncated and next_vid else None),
        el("MaxKeys", max_keys),
        opt("Delimiter", encode(delimiter) if delimiter else None),
        opt("EncodingType", enc_type),
        el("IsTruncated", bool(truncated)),
        items,
        _prefixes(prefixes, encode),
    )
    return xml_response(body)
