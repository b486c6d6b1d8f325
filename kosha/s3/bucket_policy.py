"""Bucket policy documents: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and
GetBucketPolicyStatus. The grammar and its evaluation are services/policy_eval.py's."""

from __future__ import annotations

from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

MAX_BODY = 64 * 1024    # the document may be at most 20 KiB (PolicyTooLarge); leave room for that answer


async def put_bucket_policy(req: S3Request) -> S3Response:
    assert req.bucket is not None
    body = await req.read_body(MAX_BODY)
    await req.kosha.access.put_policy(req.principal, req.bucket, body)
    return empty_response(204)


async def get_bucket_policy(req: S3Request) -> S3Response:
    assert req.bucket is not None
    text = await req.kosha.access.get_policy(req.principal, req.bucket)
    body = text.encode()
    return S3Response(200, [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())], body)


async def delete_bucket_policy(req: S3Request) -> S3Response:
    assert req.bucket is not None
    await req.kosha.access.delete_policy(req.principal, req.bucket)
    return empty_response(204)


async def get_bucket_policy_status(req: S3Request) -> S3Response:
    assert req.bucket is not None
    public = await req.kosha.access.policy_is_public(req.principal, req.bucket)
    return xml_response(xml.doc("PolicyStatus", el("IsPublic", "true" if public else "false")))
