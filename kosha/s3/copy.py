"""CopyObject: a metadata operation on shared blobs (no byte is copied)."""

from __future__ import annotations

from urllib.parse import unquote

from ..errors import Invalid
from ..services.models import Bucket, ObjectVersion
from . import tagging, xml
from .acl import canned_from_headers
from .bucket import iso8601
from .conditions import evaluate_copy_source
from .put import refuse_sse, stored_headers, storage_class, user_meta, _text
from .request import S3Request, S3Response, xml_response
from .xml import el


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    """`x-amz-copy-source: [/]bucket/key[?versionId=v]` (URL-encoded) → (bucket, key, version)."""
    raw = value.strip()
    version_id = None
    path, sep, query = raw.partition("?")
    if sep:
        for part in query.split("&"):
            name, _, v = part.partition("=")
            if name == "versionId":
                version_id = unquote(v)
    path = unquote(path)
    if path.startswith("/"):
        path = path[1:]
    bucket, slash, key = path.partition("/")
    if not bucket or not slash or not key:
        raise Invalid("Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey", s3_code="InvalidArgument",
                      ArgumentName="x-amz-copy-source", ArgumentValue=value)
    return bucket, key, version_id


async def source_version(req: S3Request) -> tuple[Bucket, str, ObjectVersion]:
    """Resolve and authorize the copy source (read access, the source bucket's address policy)."""
    src_bucket, src_key, src_vid = parse_copy_source(req.headers["x-amz-copy-source"])
    bucket = await req.bucket_for("kos:GetObject", write=False, name=src_bucket, key=src_key)
    version = await req.kosha.objects.head(req.principal, bucket.name, src_key, src_vid)
    evaluate_copy_source(req.headers, version)
    return bucket, src_key, version


async def copy_object(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    h = req.headers
    refuse_sse(h)
    src_bucket_obj, src_key, src = await source_version(req)
    src_bucket = src_bucket_obj.name
    directive = (h.get("x-amz-metadata-directive") or "COPY").strip().upper()
    tag_directive = (h.get("x-amz-tagging-directive") or "COPY").strip().upper()
    if directive not in ("COPY", "REPLACE"):
        raise Invalid("Unknown metadata directive.", s3_code="InvalidArgument",
                      ArgumentName="x-amz-metadata-directive", ArgumentValue=directive)
    if tag_directive not in ("COPY", "REPLACE"):
        raise Invalid("Unknown tagging directive.", s3_code="InvalidArgument",
                      ArgumentName="x-amz-tagging-directive", ArgumentValue=tag_directive)
    sc = storage_class(h)
    acl = canned_from_headers(req, bucket=False)
    replace = None
    if directive == "REPLACE":
        ctype = h.get("content-type")
        replace = dict(content_type=_text(ctype) if ctype else None, headers=stored_headers(h),
                       user_meta=user_meta(h))
    tags = None
    if tag_directive == "REPLACE":
        tags = tagging.from_header(h.get("x-amz-tagging")) or {}
    same = src_bucket == bucket.name and src_key == req.key
    if same and replace is None and sc is None and tags is None and \
            (src.version_id == "null" or not bucket.versioning or
             "versionId=" not in h["x-amz-copy-source"]):
        raise Invalid("This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata, storage class, website "
                      "redirect location or encryption attributes.", s3_code="InvalidRequest")
    version = await req.kosha.objects.copy(
        req.principal, src_bucket, src_key, bucket.name, req.key,
        src_version_id=src.version_id, replace_metadata=replace, tags=tags, acl=acl,
        storage_class=sc, if_match=h.get("if-match"), if_none_match=h.get("if-none-match"))
    body = xml.doc("CopyObjectResult", el("LastModified", iso8601(version.last_modified)),
                   el("ETag", version.quoted_etag),
                   "".join(el("Checksum" + alg.upper(), v) for alg, v in version.checksums.items()
                           if "-" not in v))
    resp = xml_response(body)
    if bucket.versioning and version.version_id != "null":
        resp.add("x-amz-version-id", version.version_id)
    if src_bucket_obj.versioning:
        resp.add("x-amz-copy-source-version-id", src.version_id)
    return resp
