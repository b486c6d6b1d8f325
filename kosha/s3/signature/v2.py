"""AWS Signature Version 2 for Kosha's S3 API (Authorization header and query-string URLs).

AWS, Ceph RGW and MinIO still accept it, and boto3 still produces it: `generate_presigned_url`
against an endpoint whose region it does not know signs V2, as does any client configured with
`signature_version='s3'`. Same two steps as V4 (`kosha.s3.signature.v4`)::

    auth = parse_v2_auth(method, raw_path, raw_query, headers, bucket)   # None: not V2
    if auth is not None:
        signed = auth.verify(secret_key, now)

StringToSign (AWS's "REST authentication" page)::

    Verb \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedAmzHeaders CanonicalizedResource

Date is the ``Date`` header, empty when ``x-amz-date`` is sent (which then signs the time among
the amz headers), and the ``Expires`` epoch seconds for a query-string URL. The signature is
base64(HMAC-SHA1(secret, StringToSign)). The payload is not signed by V2: a body is checked only
by what its headers ask (Content-MD5, x-amz-checksum-*, an x-amz-content-sha256 digest).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature.headers import HeaderInput, first, header_map
from kosha.s3.signature.streaming import STREAMING_MODES, STREAMING_UNSIGNED_TRAILER
from kosha.s3.signature.v4 import (
    MAX_SKEW, REQUEST_TIME_SKEWED_MESSAGE, UNSIGNED_PAYLOAD, SignedRequest, signature_mismatch,
)

__all__ = ["SUB_RESOURCES", "V2Auth", "parse_v2_auth", "string_to_sign", "sign",
           "canonical_resource", "canonical_amz_headers", "policy_signature"]

# The query parameters AWS signs as part of the resource (botocore's HmacV1Auth list, plus the
# sub-resources S3 added since that RGW and MinIO also sign).
SUB_RESOURCES = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "defaultObjectAcl", "delete",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metrics", "notification",
    "object-lock", "ownershipControls", "partNumber", "policy", "policyStatus",
    "publicAccessBlock", "replication", "requestPayment", "restore", "retention",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "select",
    "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId",
    "versioning", "versions", "website",
})
_QUERY_AUTH = ("AWSAccessKeyId", "Signature", "Expires")
_UTC = timezone.utc
_MAX_SKEW_MS = str(int(MAX_SKEW.total_seconds() * 1000))


def _wire_text(value: str) -> str:
    """Header values arrive latin-1 decoded (one char per byte); clients sign the UTF-8 text."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value


def sign(secret_key: str, text: str) -> str:
    """base64(HMAC-SHA1(secret, text)): a V2 signature."""
    digest = hmac.new(secret_key.encode("utf-8"), text.encode("utf-8", "surrogateescape"),
                      "sha1").digest()
    return base64.b64encode(digest).decode("ascii")


def policy_signature(secret_key: str, policy_b64: str) -> str:
    """The signature of a POST object policy signed with V2 (the base64 policy is the text)."""
    return sign(secret_key, policy_b64)


def canonical_amz_headers(amz: Mapping[str, list[str]]) -> str:
    """``name:v1,v2\\n`` for each ``x-amz-*`` header, names lowercase and sorted."""
    out = []
    for name in sorted(amz):
        values = ",".join(" ".join(_wire_text(v).split()) for v in amz[name])
        out.append(f"{name}:{values}\n")
    return "".join(out)


def canonical_resource(path: str, raw_query: list[tuple[str, str]]) -> str:
    """The path as sent, then the signed sub-resources sorted by name (values decoded)."""
    subs = sorted((n, v) for n, v in raw_query if n in SUB_RESOURCES)
    if not subs:
        return path
    return path + "?" + "&".join(n if v is None else f"{n}={unquote(v)}" for n, v in subs)


def string_to_sign(method: str, content_md5: str, content_type: str, date: str,
                   amz_headers: str, resource: str) -> str:
    return f"{method}\n{content_md5}\n{content_type}\n{date}\n{amz_headers}{resource}"


def _query_pairs(raw_query: str) -> list[tuple[str, str | None]]:
    """Raw (still encoded) pairs; a name without ``=`` has the value None (signed bare)."""
    out: list[tuple[str, str | None]] = []
    for part in raw_query.split("&"):
        if part:
            name, eq, value = part.partition("=")
            out.append((unquote(name), value if eq else None))
    return out


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    try:
        t = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        t = None
    if t is None:
        for fmt in ("%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
            try:
                t = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if t is None:
        return None
    return t.replace(tzinfo=_UTC) if t.tzinfo is None else t.astimezone(_UTC)


def _amz_time(t: datetime) -> str:
    return t.astimezone(_UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(slots=True)
class V2Auth:
    """A request's V2 credentials, parsed but not yet verified (see ``parse_v2_auth``)."""

    access_key: str
    signature: str
    presigned: bool
    method: str
    content_md5: str
    content_type: str
    dates: tuple[str, ...]          # the Date line(s) to try, first the one AWS specifies
    amz_headers: str
    resources: tuple[str, ...]      # path-style resource first, then the virtual-host one
    request_time: datetime | None   # header auth: the signed time (skew check)
    expires: int | None             # query auth: epoch seconds
    content_sha256: str
    security_token: str | None

    def verify(self, secret_key: str, now: datetime | None = None) -> SignedRequest:
        """Check the time window and the signature; raise Forbidden as S3 does."""
        now = datetime.now(_UTC) if now is None else now.astimezone(_UTC)
        expires_at = self._check_time(now)
        candidates = [string_to_sign(self.method, self.content_md5, self.content_type, d,
                                     self.amz_headers, r)
                      for r in self.resources for d in self.dates]
        provided = self.signature.encode("ascii", "replace")
        if not any(hmac.compare_digest(sign(secret_key, sts).encode("ascii"), provided)
                   for sts in candidates):
            raise signature_mismatch(AWSAccessKeyId=self.access_key, StringToSign=candidates[0],
                                     SignatureProvided=self.signature)
        if self.content_sha256 in STREAMING_MODES \
                and self.content_sha256 != STREAMING_UNSIGNED_TRAILER:
            raise Invalid(f"{self.content_sha256} requires Signature Version 4",
                          s3_code="InvalidRequest")
        stamp = _amz_time(self.request_time or now)
        return SignedRequest(self.access_key, "", "s3", "", stamp, self.signature, b"",
                             self.content_sha256, self.presigned, self.security_token, (),
                             expires_at)

    def _check_time(self, now: datetime) -> datetime | None:
        if not self.presigned:
            t = self.request_time
            assert t is not None
            if abs(now - t) > MAX_SKEW:
                raise Forbidden(REQUEST_TIME_SKEWED_MESSAGE, s3_code="RequestTimeTooSkewed",
                                RequestTime=_amz_time(t), ServerTime=_amz_time(now),
                                MaxAllowedSkewMilliseconds=_MAX_SKEW_MS)
            return None
        assert self.expires is not None
        try:
            expires_at = datetime.fromtimestamp(self.expires, _UTC)
        except (OverflowError, OSError, ValueError):
            expires_at = datetime.max.replace(tzinfo=_UTC) - timedelta(days=1)
        if now > expires_at:
            raise Forbidden("Request has expired", s3_code="AccessDenied",
                            Expires=_amz_time(expires_at), ServerTime=_amz_time(now))
        return expires_at


def parse_v2_auth(method: str, raw_path: str, raw_query: str, headers: HeaderInput,
                  bucket: str | None = None) -> V2Auth | None:
    """The V2 credentials of a request, or None when it is not signed with V2.

    ``raw_path``/``raw_query`` are the request target as received; ``bucket`` is the bucket
    the request addresses: for virtual-hosted style AWS signs ``/bucket`` + path, so that
    resource is tried after the path as sent.
    """
    hm = header_map(headers)
    authz = first(hm, "authorization")
    if authz is not None and not authz.startswith("AWS "):
        return None
    if authz is None and "AWSAccessKeyId" not in raw_query and "Expires" not in raw_query:
        return None
    query = _query_pairs(raw_query) if raw_query else []
    names = {n for n, _ in query}
    if authz is not None:
        if names & {"AWSAccessKeyId", "Signature", "X-Amz-Signature", "X-Amz-Algorithm"}:
            raise Invalid("Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                          "parameter, Signature query string parameter or the Authorization "
                          "header should be specified", s3_code="InvalidArgument")
        return _header_auth(method, raw_path, query, hm, authz, bucket)
    if "AWSAccessKeyId" in names or ("Signature" in names and "Expires" in names):
        if "X-Amz-Algorithm" in names or "X-Amz-Signature" in names:
            raise Invalid("Only one auth mechanism allowed", s3_code="InvalidArgument")
        return _query_auth(method, raw_path, query, hm, bucket)
    return None


def _resources(raw_path: str, query: list[tuple[str, str | None]], bucket: str | None
               ) -> tuple[str, ...]:
    path = raw_path or "/"
    subs = [(n, v) for n, v in query if n in SUB_RESOURCES]
    paths = [path]
    if bucket:
        if path == f"/{bucket}":
            paths.append(path + "/")   # botocore signs a bucket's path with its trailing slash
        else:
            paths.append(f"/{bucket}{path}")   # virtual-hosted style: "/bucket" + path
    return tuple(canonical_resource(p, subs) for p in paths)   # type: ignore[arg-type]


def _amz(hm: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {n: v for n, v in hm.items() if n.startswith("x-amz-")}


def _payload_mode(hm: Mapping[str, list[str]]) -> str:
    return (first(hm, "x-amz-content-sha256") or UNSIGNED_PAYLOAD).strip()


def _header_auth(method: str, raw_path: str, query: list[tuple[str, str | None]],
                 hm: Mapping[str, list[str]], authz: str, bucket: str | None) -> V2Auth:
    access_key, colon, signature = authz[4:].strip().rpartition(":")
    if not colon or not access_key or not signature:
        raise Invalid("The authorization header is malformed; expecting "
                      "\"AWS <AccessKeyId>:<Signature>\".", s3_code="InvalidArgument")
    amz_date = first(hm, "x-amz-date")
    date = first(hm, "date")
    signed_time = amz_date if amz_date is not None else date
    t = _parse_time(signed_time) if signed_time is not None else None
    if t is None:
        raise Forbidden("AWS authentication requires a valid Date or x-amz-date header",
                        s3_code="AccessDenied")
    # With x-amz-date, AWS signs an empty Date line; some clients sign the Date header anyway.
    dates = ("", date.strip()) if amz_date is not None and date is not None else \
        ("",) if amz_date is not None else (date.strip(),)   # type: ignore[union-attr]
    return V2Auth(
        access_key=access_key, signature=signature.strip(), presigned=False, method=method,
        content_md5=_wire_text((first(hm, "content-md5") or "").strip()),
        content_type=_wire_text((first(hm, "content-type") or "").strip()),
        dates=dates, amz_headers=canonical_amz_headers(_amz(hm)),
        resources=_resources(raw_path, query, bucket), request_time=t, expires=None,
        content_sha256=_payload_mode(hm), security_token=first(hm, "x-amz-security-token"))


def _query_auth(method: str, raw_path: str, query: list[tuple[str, str | None]],
                hm: Mapping[str, list[str]], bucket: str | None) -> V2Auth:
    params: dict[str, str] = {}
    for n, v in query:
        params.setdefault(n, unquote(v or ""))
    if any(not params.get(n) for n in _QUERY_AUTH):
        raise Forbidden("Query-string authentication requires the Signature, Expires and "
                        "AWSAccessKeyId parameters", s3_code="AccessDenied")
    expires_s = params["Expires"]
    if not (expires_s.isascii() and expires_s.isdigit()):
        raise Forbidden("Invalid date (should be seconds since epoch): " + expires_s,
                        s3_code="AccessDenied")
    # botocore moves Content-Type, Content-MD5 and x-amz-* into the query of a V2 URL; the
    # client then need not send them as headers.
    amz = _amz(hm)
    for n, v in params.items():
        ln = n.lower()
        if ln.startswith("x-amz-") and ln not in amz:
            amz[ln] = [v]
    return V2Auth(
        access_key=params["AWSAccessKeyId"], signature=params["Signature"], presigned=True,
        method=method,
        content_md5=_wire_text((first(hm, "content-md5") or params.get("Content-MD5")
                                or params.get("content-md5") or "").strip()),
        content_type=_wire_text((first(hm, "content-type") or params.get("Content-Type")
                                 or params.get("content-type") or "").strip()),
        dates=(expires_s,), amz_headers=canonical_amz_headers(amz),
        resources=_resources(raw_path, query, bucket), request_time=None,
        expires=int(expires_s), content_sha256=_payload_mode(hm),
        security_token=params.get("x-amz-security-token") or first(hm, "x-amz-security-token"))
