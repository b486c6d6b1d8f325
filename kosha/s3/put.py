"""PutObject, and the object attributes every write reads from request headers."""

from __future__ import annotations

from typing import Any

from ..errors import Invalid, KoshaError, NotImplementedYet
from ..services.models import STORAGE_CLASSES, ObjectVersion
from . import tagging
from .acl import canned_from_headers
from .request import S3Request, S3Response, empty_response
from .signature.payload import strip_aws_chunked

MAX_SINGLE_PUT = 5 * 1024 ** 3
MAX_USER_META = 2048
STORED_HEADERS = ("content-encoding", "content-disposition", "content-language",
                  "cache-control", "expires")
SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
               "x-amz-server-side-encryption-aws-kms-key-id")


class MissingContentLength(KoshaError):
    status = 411
    s3_code = "MissingContentLength"


def _text(value: str) -> str:
    """Header values arrive as Latin-1 code points of the wire bytes; clients send UTF-8."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def user_meta(headers: dict[str, str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    size = 0
    for name, value in headers.items():
        if name.startswith("x-amz-meta-"):
            k = name[11:]
            v = _text(value.strip())
            meta[k] = v
            size += len(k.encode()) + len(v.encode())
    if size > MAX_USER_META:
        raise Invalid("Your metadata headers exceed the maximum allowed metadata size",
                      s3_code="MetadataTooLarge", MaxSizeAllowed=MAX_USER_META)
    return meta


def stored_headers(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in STORED_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "content-encoding" and "aws-chunked" in value.lower():
            value = strip_aws_chunked(value)
            if not value:
                continue
            value = value.replace(",", ", ")     # as sent: `gzip, br`, not `gzip,br`
        out[name] = _text(value)
    return out


def storage_class(headers: dict[str, str]) -> str | None:
    sc = headers.get("x-amz-storage-class")
    if sc is None:
        return None
    sc = sc.strip()
    if sc not in STORAGE_CLASSES:
        raise Invalid("The storage class you specified is not valid",
                      s3_code="InvalidStorageClass")
    return sc


def refuse_sse(headers: dict[str, str]) -> None:
    for h in SSE_HEADERS:
        if h in headers:
            raise NotImplementedYet("Server-side encryption is not supported",
                                    s3_code="NotImplemented")


def object_attrs(req: S3Request) -> dict[str, Any]:
    """content_type, headers, user_meta, tags, acl, storage_class from a write's headers."""
    h = req.headers
    refuse_sse(h)
    ctype = h.get("content-type")
    return dict(
        content_type=_text(ctype) if ctype else None,
        headers=stored_headers(h),
        user_meta=user_meta(h),
        tags=tagging.from_header(h.get("x-amz-tagging")),
        acl=canned_from_headers(req, bucket=False),
        storage_class=storage_class(h),
    )


def declared_length(req: S3Request) -> int | None:
    """The decoded body length the client announced (None: chunked transfer, unknown)."""
    h = req.headers
    raw = h.get("x-amz-decoded-content-length")
    if raw is None:
        raw = h.get("content-length")
        if raw is None:
            if "chunked" in h.get("transfer-encoding", "").lower():
                return None
            raise MissingContentLength("You must provide the Content-Length HTTP header.")
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        raise Invalid("Invalid Content-Length", s3_code="InvalidArgument")
    return int(raw)


def checksum_finalizer(payload: Any):  # type: ignore[no-untyped-def]
    """`checksums=` for the services: the verified x-amz-checksum-* once the body is consumed."""
    def finalize() -> dict[str, str]:
        spec = payload.checksum
        if spec is None or spec.value is None:
            return {}
        return {spec.algorithm.upper(): spec.value}
    return finalize


def add_checksum_headers(resp: S3Response, checksums: dict[str, str]) -> None:
    for alg, value in checksums.items():
        resp.add("x-amz-checksum-" + alg.lower(), value)


def version_headers(resp: S3Response, version: ObjectVersion, versioned: bool) -> None:
    """ETag, and the new version's id when the bucket keeps versions (a write to an unversioned
    or suspended bucket makes the `null` version, which S3 does not announce)."""
    resp.add("etag", version.quoted_etag)
    if versioned and version.version_id != "null":
        resp.add("x-amz-version-id", version.version_id)


async def put_object(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    attrs = object_attrs(req)
    length = declared_length(req)
    if length is not None and length > MAX_SINGLE_PUT:
        raise Invalid("Your proposed upload exceeds the maximum allowed size",
                      s3_code="EntityTooLarge", ProposedSize=length, MaxSizeAllowed=MAX_SINGLE_PUT)
    # Conditional writes: If-None-Match `*` (the key must not exist) or ETags (the current
    # object's ETag must not be one of them); If-Match ETags or `*` (the current object must
    # exist, else 404 NoSuchKey as S3 answers, and match, else 412).
    payload = req.payload()
    version = await req.kosha.objects.put(
        req.principal, bucket.name, req.key, payload, expected_size=length,
        checksums=checksum_finalizer(payload), if_match=req.headers.get("if-match"),
        if_none_match=req.headers.get("if-none-match"), **attrs)
    resp = empty_response(200)
    version_headers(resp, version, bucket.versioning_enabled)
    add_checksum_headers(resp, version.checksums)
    return resp
