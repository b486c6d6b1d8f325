"""Get/PutBucketVersioning."""

from __future__ import annotations

from ..errors import Invalid, NotImplementedYet
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response


async def get_bucket_versioning(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    status = xml.el("Status", bucket.versioning) if bucket.versioning else ""
    return xml_response(xml.doc("VersioningConfiguration", status))


async def put_bucket_versioning(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    root = xml.parse(await req.read_body(64 * 1024), root="VersioningConfiguration")
    status = xml.text(root, "Status")
    mfa = xml.text(root, "MfaDelete")
    if mfa is not None and mfa.strip() == "Enabled":
        raise NotImplementedYet("MFA Delete is not supported", s3_code="NotImplemented")
    if mfa is not None and mfa.strip() not in ("Enabled", "Disabled"):
        raise xml.malformed()
    if status is None:
        return empty_response(200)
    status = status.strip()
    if status not in ("Enabled", "Suspended"):
        raise Invalid("The versioning configuration specified in the request is invalid.",
                      s3_code="IllegalVersioningConfigurationException")
    await req.kosha.buckets.update(req.principal, bucket.name, versioning=status)
    return empty_response(200)
