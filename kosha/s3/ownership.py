"""Object ownership controls and the public access block of a bucket (Get/Put/Delete of each).
What they change in authorization is services/bucket_access.py's."""

from __future__ import annotations

from ..errors import Invalid
from ..services.bucket_access import PAB_FLAGS
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el


async def put_ownership_controls(req: S3Request) -> S3Response:
    assert req.bucket is not None
    root = xml.parse(await req.read_body(64 * 1024), root="OwnershipControls")
    rules = xml.children(root, "Rule")
    if len(rules) != 1:
        raise xml.malformed()
    ownership = (xml.text(rules[0], "ObjectOwnership") or "").strip()
    await req.kosha.access.put_ownership(req.principal, req.bucket, ownership)
    return empty_response(200)


async def get_ownership_controls(req: S3Request) -> S3Response:
    assert req.bucket is not None
    ownership = await req.kosha.access.get_ownership(req.principal, req.bucket)
    return xml_response(xml.doc("OwnershipControls",
                                f"<Rule>{el('ObjectOwnership', ownership)}</Rule>"))


async def delete_ownership_controls(req: S3Request) -> S3Response:
    assert req.bucket is not None
    await req.kosha.access.delete_ownership(req.principal, req.bucket)
    return empty_response(204)


async def put_public_access_block(req: S3Request) -> S3Response:
    assert req.bucket is not None
    root = xml.parse(await req.read_body(64 * 1024), root="PublicAccessBlockConfiguration")
    flags: dict[str, bool] = {}
    for name in PAB_FLAGS:
        raw = xml.text(root, name)
        if raw is not None:
            value = raw.strip().lower()
            if value not in ("true", "false"):
                raise Invalid(f"{name} must be true or false", s3_code="MalformedXML")
            flags[name] = value == "true"
    await req.kosha.access.put_public_access_block(req.principal, req.bucket, flags)
    return empty_response(200)


async def get_public_access_block(req: S3Request) -> S3Response:
    assert req.bucket is not None
    flags = await req.kosha.access.get_public_access_block(req.principal, req.bucket)
    return xml_response(xml.doc("PublicAccessBlockConfiguration",
                                *[el(n, "true" if flags.get(n) else "false") for n in PAB_FLAGS]))


async def delete_public_access_block(req: S3Request) -> S3Response:
    assert req.bucket is not None
    await req.kosha.access.delete_public_access_block(req.principal, req.bucket)
    return empty_response(204)
