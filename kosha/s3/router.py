"""Request → operation: bucket and key from the path or the Host header, then the method and the
query's subresources pick the S3 operation.

Everything here is table lookups and string slicing; nothing is compiled per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from ..errors import Invalid, MethodNotAllowed, NotImplementedYet


@dataclass(frozen=True, slots=True)
class Op:
    name: str            # S3 operation name, e.g. "GetObject"
    action: str          # authorization action, from the vocabulary of services/authz.py
    write: bool          # governed by s3_read_write_ips (else by the union of both lists)
    s3: str              # its action in bucket policy documents (services/policy_eval.py)


def _op(name: str, action: str | None = None, write: bool = False, s3: str | None = None) -> Op:
    return Op(name, action or f"kos:{name}", write, s3 or f"s3:{name}")


# Operations (one instance each).
LIST_BUCKETS = _op("ListBuckets", "kos:ListBuckets", s3="s3:ListAllMyBuckets")
CREATE_BUCKET = _op("CreateBucket", write=True)
HEAD_BUCKET = _op("HeadBucket", "kos:ListBucket", s3="s3:ListBucket")
DELETE_BUCKET = _op("DeleteBucket", write=True)
GET_BUCKET_LOCATION = _op("GetBucketLocation")
GET_BUCKET_VERSIONING = _op("GetBucketVersioning", "kos:GetBucket")
PUT_BUCKET_VERSIONING = _op("PutBucketVersioning", "kos:UpdateBucket", write=True)
GET_BUCKET_TAGGING = _op("GetBucketTagging", "kos:GetBucket")
PUT_BUCKET_TAGGING = _op("PutBucketTagging", "kos:UpdateBucket", write=True)
DELETE_BUCKET_TAGGING = _op("DeleteBucketTagging", "kos:UpdateBucket", write=True,
                            s3="s3:PutBucketTagging")
GET_BUCKET_LIFECYCLE = _op("GetBucketLifecycleConfiguration", "kos:GetLifecycle",
                           s3="s3:GetLifecycleConfiguration")
PUT_BUCKET_LIFECYCLE = _op("PutBucketLifecycleConfiguration", "kos:PutLifecycle",
                           write=True, s3="s3:PutLifecycleConfiguration")
DELETE_BUCKET_LIFECYCLE = _op("DeleteBucketLifecycle", "kos:PutLifecycle", write=True,
                              s3="s3:PutLifecycleConfiguration")
GET_BUCKET_CORS = _op("GetBucketCors", "kos:GetBucketCors", s3="s3:GetBucketCORS")
PUT_BUCKET_CORS = _op("PutBucketCors", "kos:PutBucketCors", write=True, s3="s3:PutBucketCORS")
DELETE_BUCKET_CORS = _op("DeleteBucketCors", "kos:PutBucketCors", write=True,
                         s3="s3:PutBucketCORS")
GET_BUCKET_NOTIFICATION = _op("GetBucketNotificationConfiguration", "kos:GetBucketNotification",
                              s3="s3:GetBucketNotification")
PUT_BUCKET_NOTIFICATION = _op("PutBucketNotificationConfiguration", "kos:PutBucketNotification",
                              write=True, s3="s3:PutBucketNotification")
GET_BUCKET_ACL = _op("GetBucketAcl", "kos:GetBucket")
PUT_BUCKET_ACL = _op("PutBucketAcl", "kos:UpdateBucket", write=True)
LIST_OBJECTS = _op("ListObjects", "kos:ListBucket", s3="s3:ListBucket")
LIST_OBJECTS_V2 = _op("ListObjectsV2", "kos:ListBucket", s3="s3:ListBucket")
LIST_OBJECT_VERSIONS = _op("ListObjectVersions", "kos:ListBucketVersions",
                           s3="s3:ListBucketVersions")
LIST_MULTIPART_UPLOADS = _op("ListMultipartUploads", "kos:ListMultipartUploads",
                             s3="s3:ListBucketMultipartUploads")
DELETE_OBJECTS = _op("DeleteObjects", "kos:DeleteObject", write=True, s3="s3:DeleteObject")
POST_OBJECT = _op("PostObject", "kos:PutObject", write=True, s3="s3:PutObject")
GET_OBJECT = _op("GetObject")
HEAD_OBJECT = _op("HeadObject", "kos:GetObject", s3="s3:GetObject")
PUT_OBJECT = _op("PutObject", write=True)
COPY_OBJECT = _op("CopyObject", "kos:PutObject", write=True, s3="s3:PutObject")
DELETE_OBJECT = _op("DeleteObject", write=True)
GET_OBJECT_ATTRIBUTES = _op("GetObjectAttributes", "kos:GetObject")
GET_OBJECT_ACL = _op("GetObjectAcl", "kos:GetObject")
PUT_OBJECT_ACL = _op("PutObjectAcl", "kos:PutObject", write=True)
GET_OBJECT_TAGGING = _op("GetObjectTagging")
PUT_OBJECT_TAGGING = _op("PutObjectTagging", write=True)
DELETE_OBJECT_TAGGING = _op("DeleteObjectTagging", "kos:PutObjectTagging", write=True)
CREATE_MULTIPART = _op("CreateMultipartUpload", "kos:PutObject", write=True, s3="s3:PutObject")
UPLOAD_PART = _op("UploadPart", "kos:PutObject", write=True, s3="s3:PutObject")
UPLOAD_PART_COPY = _op("UploadPartCopy", "kos:PutObject", write=True, s3="s3:PutObject")
COMPLETE_MULTIPART = _op("CompleteMultipartUpload", "kos:PutObject", write=True,
                         s3="s3:PutObject")
ABORT_MULTIPART = _op("AbortMultipartUpload", write=True)
LIST_PARTS = _op("ListParts", "kos:ListMultipartUploads", s3="s3:ListMultipartUploadParts")
GET_BUCKET_POLICY = _op("GetBucketPolicy")
PUT_BUCKET_POLICY = _op("PutBucketPolicy", write=True)
DELETE_BUCKET_POLICY = _op("DeleteBucketPolicy", write=True)
GET_BUCKET_POLICY_STATUS = _op("GetBucketPolicyStatus", "kos:GetBucketPolicy")
GET_OWNERSHIP = _op("GetBucketOwnershipControls", "kos:GetBucket")
PUT_OWNERSHIP = _op("PutBucketOwnershipControls", "kos:UpdateBucket", write=True)
DELETE_OWNERSHIP = _op("DeleteBucketOwnershipControls", "kos:UpdateBucket", write=True,
                       s3="s3:PutBucketOwnershipControls")
GET_PAB = _op("GetPublicAccessBlock", "kos:GetBucket", s3="s3:GetBucketPublicAccessBlock")
PUT_PAB = _op("PutPublicAccessBlock", "kos:UpdateBucket", write=True,
              s3="s3:PutBucketPublicAccessBlock")
DELETE_PAB = _op("DeletePublicAccessBlock", "kos:UpdateBucket", write=True,
                 s3="s3:PutBucketPublicAccessBlock")
OPTIONS = _op("Options", "kos:Options")

# Subresources S3 has and we do not: asking for them is NotImplemented, not a silent GetObject.
UNSUPPORTED_BUCKET = frozenset({
    "accelerate", "analytics", "encryption", "intelligent-tiering", "inventory", "logging",
    "metrics", "object-lock", "replication", "requestPayment", "website", "metadataTable",
    "session",
})
UNSUPPORTED_OBJECT = frozenset({
    "legal-hold", "retention", "restore", "select", "torrent", "renameObject",
})


def _not_implemented(what: str) -> NotImplementedYet:
    return NotImplementedYet(f"{what} is not implemented", s3_code="NotImplemented")


def _method_not_allowed(method: str) -> MethodNotAllowed:
    return MethodNotAllowed("The specified method is not allowed against this resource.",
                            method=method)


def route(method: str, bucket: str | None, key: str | None, query: dict[str, str],
          headers: dict[str, str]) -> Op:
    """The operation a request asks for (NotImplemented / MethodNotAllowed errors otherwise)."""
    if method == "OPTIONS":
        if bucket is None:
            raise Invalid("Insufficient information. Origin request header needed.",
                          s3_code="BadRequest")
        return OPTIONS
    if bucket is None:
        if method == "GET":
            return LIST_BUCKETS
        raise _method_not_allowed(method)
    if key is None:
        return _bucket_op(method, query, headers)
    return _object_op(method, query, headers)


def _bucket_op(method: str, q: dict[str, str], headers: dict[str, str]) -> Op:
    if method == "GET":
        if not q:
            return LIST_OBJECTS
        if "list-type" in q:
            if q["list-type"] != "2":
                raise Invalid("Invalid list-type", s3_code="InvalidArgument")
            return LIST_OBJECTS_V2
        if "versioning" in q:
            return GET_BUCKET_VERSIONING
        if "versions" in q:
            return LIST_OBJECT_VERSIONS
        if "uploads" in q:
            return LIST_MULTIPART_UPLOADS
        if "location" in q:
            return GET_BUCKET_LOCATION
        if "tagging" in q:
            return GET_BUCKET_TAGGING
        if "lifecycle" in q:
            return GET_BUCKET_LIFECYCLE
        if "cors" in q:
            return GET_BUCKET_CORS
        if "acl" in q:
            return GET_BUCKET_ACL
        if "policy" in q:
            return GET_BUCKET_POLICY
        if "policyStatus" in q:
            return GET_BUCKET_POLICY_STATUS
        if "ownershipControls" in q:
            return GET_OWNERSHIP
        if "publicAccessBlock" in q:
            return GET_PAB
        if "notification" in q:
            return GET_BUCKET_NOTIFICATION
        _check_unsupported(q, UNSUPPORTED_BUCKET)
        return LIST_OBJECTS
    if method == "PUT":
        if not q:
            return CREATE_BUCKET
        if "versioning" in q:
            return PUT_BUCKET_VERSIONING
        if "tagging" in q:
            return PUT_BUCKET_TAGGING
        if "lifecycle" in q:
            return PUT_BUCKET_LIFECYCLE
        if "cors" in q:
            return PUT_BUCKET_CORS
        if "acl" in q:
            return PUT_BUCKET_ACL
        if "policy" in q:
            return PUT_BUCKET_POLICY
        if "ownershipControls" in q:
            return PUT_OWNERSHIP
        if "publicAccessBlock" in q:
            return PUT_PAB
        if "notification" in q:
            return PUT_BUCKET_NOTIFICATION
        _check_unsupported(q, UNSUPPORTED_BUCKET)
        return CREATE_BUCKET
    if method == "HEAD":
        return HEAD_BUCKET
    if method == "DELETE":
        if not q:
            return DELETE_BUCKET
        if "tagging" in q:
            return DELETE_BUCKET_TAGGING
        if "lifecycle" in q:
            return DELETE_BUCKET_LIFECYCLE
        if "cors" in q:
            return DELETE_BUCKET_CORS
        if "policy" in q:
            return DELETE_BUCKET_POLICY
        if "ownershipControls" in q:
            return DELETE_OWNERSHIP
        if "publicAccessBlock" in q:
            return DELETE_PAB
        _check_unsupported(q, UNSUPPORTED_BUCKET)
        return DELETE_BUCKET
    if method == "POST":
        if "delete" in q:
            return DELETE_OBJECTS
        _check_unsupported(q, UNSUPPORTED_BUCKET)
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/form-data"):
            return POST_OBJECT
        raise _method_not_allowed(method)
    raise _method_not_allowed(method)


def _object_op(method: str, q: dict[str, str], headers: dict[str, str]) -> Op:
    if method == "GET":
        if not q:
            return GET_OBJECT
        if "uploadId" in q:
            return LIST_PARTS
        if "acl" in q:
            return GET_OBJECT_ACL
        if "tagging" in q:
            return GET_OBJECT_TAGGING
        if "attributes" in q:
            return GET_OBJECT_ATTRIBUTES
        _check_unsupported(q, UNSUPPORTED_OBJECT)
        return GET_OBJECT
    if method == "HEAD":
        return HEAD_OBJECT
    if method == "PUT":
        if "uploadId" in q or "partNumber" in q:
            if "uploadId" not in q or "partNumber" not in q:
                raise Invalid("Both partNumber and uploadId are required",
                              s3_code="InvalidRequest")
            return UPLOAD_PART_COPY if "x-amz-copy-source" in headers else UPLOAD_PART
        if "acl" in q:
            return PUT_OBJECT_ACL
        if "tagging" in q:
            return PUT_OBJECT_TAGGING
        _check_unsupported(q, UNSUPPORTED_OBJECT)
        return COPY_OBJECT if "x-amz-copy-source" in headers else PUT_OBJECT
    if method == "DELETE":
        if "uploadId" in q:
            return ABORT_MULTIPART
        if "tagging" in q:
            return DELETE_OBJECT_TAGGING
        _check_unsupported(q, UNSUPPORTED_OBJECT)
        return DELETE_OBJECT
    if method == "POST":
        if "uploads" in q:
            return CREATE_MULTIPART
        if "uploadId" in q:
            return COMPLETE_MULTIPART
        _check_unsupported(q, UNSUPPORTED_OBJECT)
        raise _method_not_allowed(method)
    raise _method_not_allowed(method)


def _check_unsupported(q: dict[str, str], unsupported: frozenset[str]) -> None:
    for name in q:
        if name in unsupported:
            raise _not_implemented(f"The '{name}' subresource")


# --------------------------------------------------------------------------- addressing

def split_path(raw_path: str) -> tuple[str | None, str | None]:
    """Path-style: `/bucket/key...` → (bucket, key); `/` → (None, None); `/bucket[/]` → (bucket, None).

    `raw_path` is the request target's path as sent (percent-encoded); the key is decoded as UTF-8
    and kept byte-exact otherwise (`//`, `.`, `..` and trailing `/` are part of keys).
    """
    if raw_path[:1] == "/":
        raw_path = raw_path[1:]
    if not raw_path:
        return None, None
    bucket, sep, key = raw_path.partition("/")
    bucket = _unquote(bucket)
    if not bucket:
        return None, None
    if not sep or not key:
        return bucket, None
    return bucket, _unquote(key)


def _unquote(s: str) -> str:
    if "%" not in s:
        return s
    try:
        return unquote(s, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Invalid("The key is not valid UTF-8", s3_code="InvalidURI") from None


class Addressing:
    """Resolves (bucket, key) from Host and path: virtual-hosted style under `domain`."""

    __slots__ = ("domain", "suffix")

    def __init__(self, domain: str | None) -> None:
        d = (domain or "").strip().lower().rstrip(".")
        self.domain = d or None
        self.suffix = "." + d if d else None

    def resolve(self, host: str | None, raw_path: str) -> tuple[str | None, str | None]:
        if self.suffix is not None and host:
            h = host.lower()
            if h[:1] == "[":            # IPv6 literal: never virtual-hosted
                return split_path(raw_path)
            colon = h.rfind(":")
            if colon != -1:
                h = h[:colon]
            if h.endswith(self.suffix):
                bucket = h[: -len(self.suffix)]
                if bucket:
                    key = raw_path[1:] if raw_path[:1] == "/" else raw_path
                    return bucket, (_unquote(key) if key else None)
        return split_path(raw_path)
