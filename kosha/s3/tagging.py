"""Tagging of buckets and object versions (Get/Put/Delete), and the `x-amz-tagging` header."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from ..errors import Invalid, NotFound
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50


def _invalid(message: str) -> Invalid:
    return Invalid(message, s3_code="InvalidTag")


def validate(tags: dict[str, str], limit: int) -> dict[str, str]:
    if len(tags) > limit:
        what = "Object" if limit == MAX_OBJECT_TAGS else "Bucket"
        raise _invalid(f"{what} tags cannot be greater than {limit}")
    for k, v in tags.items():
        if not 0 < len(k) <= 128:
            raise _invalid("The TagKey you have provided is invalid")
        if len(v) > 256:
            raise _invalid("The TagValue you have provided is invalid")
        if k.startswith("aws:"):
            raise _invalid("Your TagKey cannot be prefixed with aws:")
    return tags


def from_header(value: str | None) -> dict[str, str] | None:
    """`x-amz-tagging: k1=v1&k2=v2` (URL-encoded)."""
    if value is None:
        return None
    tags: dict[str, str] = {}
    for k, v in parse_qsl(value, keep_blank_values=True):
        if k in tags:
            raise _invalid("Cannot provide multiple Tags with the same key")
        tags[k] = v
    return validate(tags, MAX_OBJECT_TAGS)


def to_header_count(tags: dict[str, str]) -> int:
    return len(tags)


def parse_document(body: bytes, limit: int) -> dict[str, str]:
    root = xml.parse(body, root="Tagging")
    tagset = xml.child(root, "TagSet")
    if tagset is None:
        raise xml.malformed()
    tags: dict[str, str] = {}
    for t in xml.children(tagset, "Tag"):
        k = xml.text(t, "Key")
        v = xml.text(t, "Value")
        if k is None or v is None:
            raise xml.malformed()
        if k in tags:
            raise _invalid("Cannot provide multiple Tags with the same key")
        tags[k] = v
    return validate(tags, limit)


def document(tags: dict[str, object]) -> bytes:
    """The TagSet, in key order (a stable answer whatever order the tags were sent in)."""
    items = [f"<Tag>{el('Key', k)}{el('Value', '' if v is None else v)}</Tag>"
             for k, v in sorted(tags.items())]
    return xml.doc("Tagging", "<TagSet>", items, "</TagSet>")


def encode_query(tags: dict[str, str]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in tags.items())


# ---------------------------------------------------------------------------- bucket

async def get_bucket_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    if not bucket.tags:
        raise NotFound("The TagSet does not exist", s3_code="NoSuchTagSet")
    return xml_response(document(bucket.tags))


async def put_bucket_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    tags = parse_document(await req.read_body(256 * 1024), MAX_BUCKET_TAGS)
    await req.kosha.buckets.update(req.principal, bucket.name, tags=tags, clear_tags=not tags)
    return empty_response(204)


async def delete_bucket_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    await req.kosha.buckets.update(req.principal, bucket.name, clear_tags=True)
    return empty_response(204)


# ---------------------------------------------------------------------------- object

async def get_object_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    version = await req.kosha.objects.head(req.principal, bucket.name, req.key,
                                           req.version_id(),
                                           action="kos:GetObjectTagging")
    resp = xml_response(document(version.tags))
    if bucket.versioning:
        resp.add("x-amz-version-id", version.version_id)
    return resp


async def put_object_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    tags = parse_document(await req.read_body(64 * 1024), MAX_OBJECT_TAGS)
    version_id = req.version_id()
    current = await req.kosha.objects.head(req.principal, bucket.name, req.key, version_id,
                                           action="kos:PutObjectTagging")
    updated = await req.kosha.objects.update_version(req.principal, bucket.name, req.key,
                                                     current.version_id, tags=tags)
    resp = empty_response(200)
    if bucket.versioning:
        resp.add("x-amz-version-id", updated.version_id)
    return resp


async def delete_object_tagging(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    version_id = req.version_id()
    current = await req.kosha.objects.head(req.principal, bucket.name, req.key, version_id,
                                           action="kos:PutObjectTagging")
    updated = await req.kosha.objects.update_version(req.principal, bucket.name, req.key,
                                                     current.version_id, tags={})
    resp = empty_response(204)
    if bucket.versioning:
        resp.add("x-amz-version-id", updated.version_id)
    return resp
