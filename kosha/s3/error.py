"""The one place domain errors become S3 error responses.

`<Error><Code/><Message/>[<Key/>|<BucketName/>...]<Resource/><RequestId/><HostId/></Error>` with the
status S3 uses for that code, `x-amz-request-id` on every answer, and no body for HEAD requests
(the code travels in `x-amz-error-code` there, as some S3 services do, for debugging).
"""

from __future__ import annotations

import logging
from typing import Any

from ..clock import http_date
from ..errors import Invalid, KoshaError
from .request import S3Request, S3Response
from .xml import XML_DECL, el, esc

log = logging.getLogger("kosha.s3")

# S3 answers these codes with these statuses whatever the raising layer chose.
_STATUS_BY_CODE = {
    "AccessDenied": 403,
    "AccountProblem": 403,
    "InvalidAccessKeyId": 403,
    "SignatureDoesNotMatch": 403,
    "RequestTimeTooSkewed": 403,
    "ExpiredToken": 400,
    "InvalidToken": 400,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchVersion": 404,
    "NoSuchUpload": 404,
    "NoSuchTagSet": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchLifecycleConfiguration": 404,
    "NoSuchBucketPolicy": 404,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "OperationAborted": 409,
    "InvalidBucketState": 409,
    "MethodNotAllowed": 405,
    "MissingContentLength": 411,
    "PreconditionFailed": 412,
    "InvalidRange": 416,
    "NotImplemented": 501,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "XMinioStorageFull": 507,
    "InternalError": 500,
    "QuotaExceeded": 403,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "MalformedXML": 400,
    "InvalidArgument": 400,
    "InvalidRequest": 400,
    "InvalidBucketName": 400,
    "BadDigest": 400,
    "InvalidDigest": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidTag": 400,
    "KeyTooLongError": 400,
    "MetadataTooLarge": 400,
    "IncompleteBody": 400,
    "XAmzContentSHA256Mismatch": 400,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "InvalidStorageClass": 400,
    "InvalidLocationConstraint": 400,
    "IllegalVersioningConfigurationException": 400,
    "MalformedPOSTRequest": 400,
    "InvalidPolicyDocument": 400,
    "MaxMessageLengthExceeded": 400,
    "InvalidURI": 400,
    "InvalidEncodingMethod": 400,
    "UnexpectedContent": 400,
    "UnresolvableGrantByEmailAddress": 400,
    "MalformedTrailerError": 400,
    "InvalidTargetBucketForLogging": 400,
    "BadRequest": 400,
    "TooManyParts": 400,
    "NotModified": 304,
}

# S3's own wording for codes whose meaning is fixed (services word them for the KOS API).
_STANDARD_MESSAGES = {
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchVersion": "The specified version does not exist.",
    "NoSuchUpload": "The specified upload does not exist. The upload ID may be invalid, or the "
                    "upload may have been aborted or completed.",
    "BucketNotEmpty": "The bucket you tried to delete is not empty",
    "BucketAlreadyExists": "The requested bucket name is not available. The bucket namespace is "
                           "shared by all users of the system. Please select a different name "
                           "and try again.",
    "BucketAlreadyOwnedByYou": "Your previous request to create the named bucket succeeded and "
                               "you already own it.",
    "PreconditionFailed": "At least one of the pre-conditions you specified did not hold",
    "InvalidPart": "One or more of the specified parts could not be found. The part may not "
                   "have been uploaded, or the specified entity tag may not match the part's "
                   "entity tag.",
    "InvalidPartOrder": "The list of parts was not in ascending order. Parts must be ordered by "
                        "part number.",
    "EntityTooSmall": "Your proposed upload is smaller than the minimum allowed object size.",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
}

# Details the services attach that S3 puts into the error document (in this order).
_DETAIL_ELEMENTS = (
    "BucketName", "Key", "VersionId", "UploadId", "ArgumentName", "ArgumentValue", "Method",
    "ResourceType", "Condition", "AWSAccessKeyId", "StringToSign", "SignatureProvided",
    "CanonicalRequest", "RequestTime", "ServerTime", "MaxAllowedSkewMilliseconds",
    "HeadersNotSigned", "ActualObjectSize", "RangeRequested", "ProposedSize", "MinSizeAllowed",
    "MaxSizeAllowed", "PartNumber", "ETag", "X_Amz_Expires", "Expires",
)


def status_for(err: KoshaError) -> int:
    status = _STATUS_BY_CODE.get(err.s3_code)
    if status is not None:
        return status
    if err.status == 401:
        return 403
    if err.status == 422:
        return 400
    if err.status == 429:
        return 503
    return err.status


def error_response(req: S3Request | None, err: KoshaError, *, head: bool = False,
                   request_id: str = "", resource: str = "/") -> S3Response:
    """The S3 answer for a domain error."""
    code = err.s3_code
    status = status_for(err)
    request_id = req.request_id if req is not None else request_id
    resource = req.resource if req is not None else resource
    details: dict[str, Any] = dict(getattr(err, "details", None) or {})
    if req is not None:
        if code in ("NoSuchBucket", "BucketNotEmpty", "BucketAlreadyExists",
                    "BucketAlreadyOwnedByYou", "NoSuchTagSet", "NoSuchCORSConfiguration",
                    "NoSuchLifecycleConfiguration") and req.bucket is not None:
            details.setdefault("BucketName", req.bucket)
        elif code in ("NoSuchKey",) and req.key is not None:
            details.setdefault("Key", req.key)
        elif code == "NoSuchUpload" and "uploadId" in req.query:
            details.setdefault("UploadId", req.query["uploadId"])
        elif code == "MethodNotAllowed":
            details.setdefault("Method", req.method)
    resp = S3Response(status)
    resp.add("x-amz-request-id", request_id)
    resp.add("x-amz-id-2", request_id)
    # The headers of a delete marker travel with its 404/405 (S3 sends them on GET and HEAD).
    if details.get("delete_marker"):
        resp.add("x-amz-delete-marker", "true")
        if details.get("version_id"):
            resp.add("x-amz-version-id", details["version_id"])
        if status == 405:
            resp.add("allow", "DELETE")
            lm = details.get("last_modified")
            if isinstance(lm, (int, float)):
                resp.add("last-modified", http_date(lm))
    if code in ("SlowDown", "ServiceUnavailable"):
        retry = getattr(err, "retry_after", None)
        if retry:
            resp.add("retry-after", retry)
    if status == 304 or head or (req is not None and req.method == "HEAD"):
        if status != 304:
            resp.add("x-amz-error-code", code)
        return resp
    try:
        body = _document(code, _STANDARD_MESSAGES.get(code, err.message), details, resource,
                         request_id)
    except Exception:  # noqa: BLE001 - the error answer itself must never fail
        log.exception("S3 error document failed; answering without details")
        body = _document(code, _STANDARD_MESSAGES.get(code, code), {}, "/", request_id)
    resp.add("content-type", "application/xml")
    resp.add("content-length", len(body))
    resp.body = body
    return resp


def _document(code: str, message: str, details: dict[str, Any], resource: str,
              request_id: str) -> bytes:
    parts = [XML_DECL, "<Error>", el("Code", code), el("Message", message)]
    for name in _DETAIL_ELEMENTS:
        value = details.get(name)
        if value is not None:
            parts.append(el(name.replace("_", "-"), value))
    parts.append(el("Resource", resource))
    parts.append(el("RequestId", request_id))
    parts.append(el("HostId", request_id))
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")


# Raised by decoding what a client sent (text that is not Unicode, nesting past the stack) when a
# parser missed it: the request was bad, not the server, so they answer 400, never 500.
UNDECODABLE = (UnicodeError, RecursionError)


def internal_error(req: S3Request | None, exc: BaseException, **kw: Any) -> S3Response:
    if isinstance(exc, UNDECODABLE):
        log.warning("S3 request input could not be decoded: %r", exc)
        return error_response(req, Invalid("The request holds text or nesting that cannot be "
                                           f"decoded ({type(exc).__name__}).",
                                           s3_code="InvalidArgument"), **kw)
    log.exception("S3 request failed: %s %s", req.method if req else "?",
                  req.resource if req else "?", exc_info=exc)
    err = KoshaError("We encountered an internal error. Please try again.")
    return error_response(req, err, **kw)


__all__ = ["error_response", "internal_error", "status_for", "esc"]
