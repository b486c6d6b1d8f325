"""Buckets: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

from ..errors import Forbidden, Invalid, NotImplementedYet
from . import xml
from .acl import canned_from_headers, owner_xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el


def iso8601(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


async def list_buckets(req: S3Request) -> S3Response:
    if req.principal.anonymous:
        raise Forbidden("Access Denied", s3_code="AccessDenied")
    prefix = req.query.get("prefix") or None
    max_buckets = req.int_query("max-buckets", None, lo=1, hi=10000)
    token = req.query.get("continuation-token")
    after = None
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise Invalid("The continuation token provided is incorrect",
                          s3_code="InvalidArgument") from None
    buckets = []
    page = 1
    while True:
        rows, total = await req.kosha.buckets.list(req.principal, page=page, page_size=1000)
        buckets.extend(rows)
        if not rows or len(buckets) >= total:
            break
        page += 1
    buckets.sort(key=lambda b: b.name)
    if prefix:
        buckets = [b for b in buckets if b.name.startswith(prefix)]
    if after:
        buckets = [b for b in buckets if b.name > after]
    next_token = None
    if max_buckets is not None and len(buckets) > max_buckets:
        buckets = buckets[:max_buckets]
        next_token = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
    items = [f"<Bucket>{el('Name', b.name)}{el('CreationDate', iso8601(b.created_at))}"
             f"{el('BucketRegion', b.region)}</Bucket>" for b in buckets]
    body = xml.doc("ListAllMyBucketsResult", owner_xml(req.principal.kcid),
                   "<Buckets>", items, "</Buckets>",
                   xml.opt("ContinuationToken", next_token),
                   xml.opt("Prefix", prefix))
    return xml_response(body)


def _location(req: S3Request, body: bytes) -> str | None:
    if not body.strip():
        return None
    root = xml.parse(body, root="CreateBucketConfiguration")
    loc = xml.text(root, "LocationConstraint")
    if xml.child(root, "Bucket") is not None or xml.child(root, "Location") is not None:
        raise NotImplementedYet("Directory buckets are not supported", s3_code="NotImplemented")
    return (loc or "").strip() or None


async def create_bucket(req: S3Request) -> S3Response:
    if req.principal.anonymous:
        raise Forbidden("Access Denied", s3_code="AccessDenied")
    assert req.bucket is not None
    acl = canned_from_headers(req, bucket=True)
    if (req.headers.get("x-amz-bucket-object-lock-enabled") or "").lower() == "true":
        raise NotImplementedYet("Object Lock is not supported", s3_code="NotImplemented")
    location = _location(req, await req.read_body(64 * 1024))
    settings = req.kosha.settings
    region = None
    if location is not None:
        known = settings.region(location)
        # S3 regions that are not ours (us-east-1, eu-west-1, ... from clients configured for
        # AWS) land in the default region rather than failing every such client.
        region = known.name if known is not None else None
    ownership = req.headers.get("x-amz-object-ownership")
    await req.kosha.buckets.create(req.principal, req.bucket, region=region, acl=acl,
                                   ownership=ownership.strip() if ownership else None)
    resp = empty_response(200)
    resp.add("location", "/" + req.bucket)
    return resp


async def head_bucket(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    resp = empty_response(200)
    resp.add("x-amz-bucket-region", bucket.region)
    resp.add("x-amz-access-point-alias", "false")
    return resp


async def delete_bucket(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    await req.kosha.buckets.delete(req.principal, bucket.name)
    return empty_response(204)


async def get_bucket_location(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    return xml_response(xml.doc("LocationConstraint", xml.esc(bucket.region)))
