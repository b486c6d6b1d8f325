"""AWS Signature Version 4 verification for the S3 API (Authorization header and presigned URLs).

Pure functions over what the HTTP layer already has (method, raw path, raw query, header pairs);
no framework types. Verification is two-step because the secret depends on the access key::

    auth = parse_request_auth(method, raw_path, raw_query, headers)   # None: anonymous
    if auth is not None:
        secret = lookup(auth.access_key)            # caller raises invalid_access_key(...)
        signed = auth.verify(secret, now)           # raises Forbidden/Invalid

Canonicalisation follows S3 (not generic SigV4): the path is never normalised (``..``, ``//``
kept) and never double-encoded. Each path segment and query component is percent-decoded to
bytes and re-encoded with RFC 3986 unreserved characters left alone, which reproduces what
botocore/the CRT sign; if that fails we also try the path/query exactly as sent, for clients that
leave other characters unencoded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature.headers import HeaderInput, first, header_map

__all__ = [
    "ALGORITHM", "UNSIGNED_PAYLOAD", "EMPTY_SHA256", "MAX_SKEW", "MAX_PRESIGN_EXPIRES",
    "SIGNATURE_MISMATCH_MESSAGE", "INVALID_ACCESS_KEY_MESSAGE", "REQUEST_TIME_SKEWED_MESSAGE",
    "AuthorizationHeader", "SignedRequest", "RequestAuth",
    "parse_authorization", "parse_request_auth", "verify_header_auth",
    "canonical_uri", "canonical_query", "canonical_headers", "canonical_request",
    "string_to_sign", "signing_key", "sign", "presign_url",
    "signature_mismatch", "invalid_access_key",
]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MAX_SKEW = timedelta(minutes=15)
_MAX_SKEW_MS = str(int(MAX_SKEW.total_seconds() * 1000))
MAX_PRESIGN_EXPIRES = 604800  # one week, S3's limit

SIGNATURE_MISMATCH_MESSAGE = ("The request signature we calculated does not match the signature "
                              "you provided. Check your key and signing method.")
INVALID_ACCESS_KEY_MESSAGE = "The AWS Access Key Id you provided does not exist in our records."
REQUEST_TIME_SKEWED_MESSAGE = ("The difference between the request time and the current time "
                               "is too large.")
_V2_MESSAGE = "Signature Version 2 is not supported; use Signature Version 4"
_QUERY_PARAMS_MESSAGE = ("Query-string authentication version 4 requires the X-Amz-Algorithm, "
                         "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                         "and X-Amz-Expires parameters.")

_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]*")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/]*")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_UTC = timezone.utc


# ---------------------------------------------------------------------------------- errors

def signature_mismatch(**details: object) -> Forbidden:
    """The standard SignatureDoesNotMatch error (403)."""
    return Forbidden(SIGNATURE_MISMATCH_MESSAGE, s3_code="SignatureDoesNotMatch", **details)


def invalid_access_key(access_key: str) -> Forbidden:
    """For the caller when ``auth.access_key`` is unknown (403 InvalidAccessKeyId)."""
    return Forbidden(INVALID_ACCESS_KEY_MESSAGE, s3_code="InvalidAccessKeyId",
                     AWSAccessKeyId=access_key)


def _malformed(message: str, presigned: bool) -> Invalid:
    if presigned:
        return Invalid(message, s3_code="AuthorizationQueryParametersError")
    return Invalid("The authorization header is malformed; " + message,
                   s3_code="AuthorizationHeaderMalformed")


# ---------------------------------------------------------------------- Authorization header

@dataclass(slots=True)
class AuthorizationHeader:
    """A parsed ``Authorization: AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..``

    Not frozen, as `SignedRequest`: built per request, and a frozen dataclass's ``__init__``
    costs ~5x a plain one's; nothing changes or hashes either after it is built."""

    access_key: str
    date: str  # YYYYMMDD from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str  # lowercase hex

    @property
    def scope(self) -> str:
        """Credential scope ``date/region/service/aws4_request`` (part of the string to sign)."""
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _parse_credential(value: str, presigned: bool) -> tuple[str, str, str, str]:
    parts = value.rsplit("/", 4)  # the access key is the only part that could contain '/'
    if len(parts) != 5 or not parts[0]:
        raise _malformed("the Credential is mal-formed; expecting "
                         "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", presigned)
    access_key, date, region, service, terminal = parts
    if len(date) != 8 or not (date.isascii() and date.isdigit()):
        raise _malformed(f"incorrect date format \"{date}\". This date in the credential must "
                         f"be in the format \"yyyyMMdd\".", presigned)
    if terminal != "aws4_request":
        raise _malformed(f"incorrect terminal \"{terminal}\". This endpoint uses "
                         f"\"aws4_request\".", presigned)
    if service != "s3":
        raise _malformed(f"incorrect service \"{service}\". This endpoint belongs to \"s3\".",
                         presigned)
    if not region:
        raise _malformed("the region is empty.", presigned)
    return access_key, date, region, service


def _parse_signed_headers(value: str, presigned: bool) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in value.split(";"))
    if not value or "" in names:
        raise _malformed("SignedHeaders is empty or mal-formed.", presigned)
    if "host" not in names:
        raise _malformed("SignedHeaders must include host.", presigned)
    return names


def _parse_signature(value: str, presigned: bool) -> str:
    if not _HEX64.fullmatch(value):
        raise _malformed("the Signature is not 64 hexadecimal characters.", presigned)
    return value.lower()


_SIGNATURE_FIELD = ", Signature="
_PARSED: dict[str, AuthorizationHeader] = {}   # by the value up to its signature (see below)
_PARSED_MAX = 1024


def parse_authorization(value: str) -> AuthorizationHeader:
    """Parse a SigV4 Authorization header value.

    Raises ``Invalid(AuthorizationHeaderMalformed)`` for a malformed value and
    ``Invalid(InvalidRequest)`` for Signature V2 (``AWS key:sig``) or SigV4a.

    A client sends the same credential and signed headers request after request: the parse of
    everything before the signature (in the form SDKs write, ``..., Signature=<hex>`` last) is
    remembered, and only the signature is checked anew.
    """
    cut = value.rfind(_SIGNATURE_FIELD)
    if cut > 0:
        known = _PARSED.get(value[:cut])
        if known is not None:
            sig = value[cut + len(_SIGNATURE_FIELD):]
            if _HEX64.fullmatch(sig):
                return AuthorizationHeader(known.access_key, known.date, known.region,
                                           known.service, known.signed_headers, sig.lower())
    parsed = _parse_authorization(value)
    if cut > 0 and value[cut + len(_SIGNATURE_FIELD):] == parsed.signature:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[value[:cut]] = parsed
    return parsed


def _parse_authorization(value: str) -> AuthorizationHeader:
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme == "AWS":
        raise Invalid(_V2_MESSAGE, s3_code="InvalidRequest")
    if scheme == "AWS4-ECDSA-P256-SHA256":
        raise Invalid("Signature Version 4A is not supported; use Signature Version 4 "
                      "(AWS4-HMAC-SHA256)", s3_code="InvalidRequest")
    if scheme != ALGORITHM:
        raise Invalid("Unsupported Authorization Type", s3_code="InvalidArgument")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, eq, val = part.strip().partition("=")
        if not eq or key in fields:
            raise _malformed(f"the component \"{part.strip()}\" is mal-formed.", False)
        fields[key] = val.strip()
    try:
        cred, signed, sig = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as e:
        raise _malformed(f"missing the {e.args[0]} component.", False) from None
    if len(fields) != 3:
        raise _malformed("unexpected components; expecting Credential, SignedHeaders and "
                         "Signature.", False)
    access_key, date, region, service = _parse_credential(cred, False)
    return AuthorizationHeader(access_key, date, region, service,
                               _parse_signed_headers(signed, False), _parse_signature(sig, False))


# --------------------------------------------------------------------------- canonicalisation

def _text(raw: str | bytes) -> str:
    """Raw wire bytes (ASGI ``raw_path``/``query_string``) to str, keeping non-ASCII as UTF-8."""
    if isinstance(raw, str):
        return raw
    return raw.decode("ascii") if raw.isascii() else raw.decode("utf-8", "replace")


def _encode_component(s: str) -> str:
    """S3's UriEncode of one path segment / query component (decode first: no double encoding)."""
    if _UNRESERVED.fullmatch(s):
        return s
    return quote(unquote_to_bytes(s), safe="-_.~")


def canonical_uri(raw_path: str | bytes) -> str:
    """The CanonicalURI for S3: each raw segment decoded then URI-encoded; no normalisation."""
    path = _text(raw_path)
    if not path:
        return "/"
    if _PLAIN_PATH.fullmatch(path):
        return path
    return "/".join([_encode_component(seg) for seg in path.split("/")])


def _query_pairs(raw_query: str | bytes) -> list[tuple[str, str]]:
    """Split a raw query string into raw (still percent-encoded) ``(name, value)`` pairs."""
    query = _text(raw_query)
    if not query:
        return []
    out = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            out.append((name, value))
    return out


def canonical_query(raw_query: str | bytes | Iterable[tuple[str, str]], *,
                    exclude_signature: bool = False) -> str:
    """The CanonicalQueryString: components re-encoded, sorted by name then value, ``k=`` for empty.

    ``exclude_signature`` drops ``X-Amz-Signature`` (presigned URLs sign everything but it).
    """
    pairs = raw_query if not isinstance(raw_query, (str, bytes)) else _query_pairs(raw_query)
    if not pairs:
        return ""
    enc = _encode_component
    items = sorted((enc(n), enc(v)) for n, v in pairs
                   if not (exclude_signature and n == "X-Amz-Signature"))
    return "&".join([f"{n}={v}" for n, v in items])


def _header_value(values: list[str]) -> str:
    """Trim each value, collapse inner whitespace runs, join repeats with ','."""
    out = []
    for v in values:
        if not v.isascii():
            # Header values arrive latin-1 decoded (one char per wire byte); clients sign the
            # UTF-8 text. Map back so the final utf-8/surrogateescape encode yields wire bytes.
            try:
                v = v.encode("latin-1").decode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                pass  # already real text (caller decoded as UTF-8)
        out.append(" ".join(v.split()))
    return ",".join(out)


def canonical_headers(headers: Mapping[str, list[str]], signed_headers: Iterable[str]) -> str:
    """CanonicalHeaders block (each ``name:value\\n``), in SignedHeaders order.

    A signed header that is absent raises SignatureDoesNotMatch: the client signed something we
    did not receive.
    """
    lines = []
    for name in signed_headers:
        values = headers.get(name)
        if values is None:
            raise signature_mismatch(MissingSignedHeader=name)
        lines.append(f"{name}:{_header_value(values)}\n")
    return "".join(lines)


def canonical_request(method: str, raw_path: str | bytes,
                      raw_query: str | bytes | Iterable[tuple[str, str]],
                      headers: HeaderInput, signed_headers: Iterable[str], payload_hash: str,
                      *, presigned: bool = False) -> str:
    """The SigV4 CanonicalRequest (as S3 computes it) for the given raw request parts."""
    signed = tuple(signed_headers)
    return "\n".join((
        method,
        canonical_uri(raw_path),
        canonical_query(raw_query, exclude_signature=presigned),
        canonical_headers(header_map(headers), signed),
        ";".join(signed),
        payload_hash,
    ))


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    """StringToSign = algorithm, timestamp, scope, hex(sha256(canonical request))."""
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{_sha256_hex(canonical_request)}"


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date/region/service; cached (4 HMACs saved per request)."""
    k = hmac.digest(("AWS4" + secret).encode("utf-8"), date.encode("ascii"), "sha256")
    k = hmac.digest(k, region.encode("utf-8"), "sha256")
    k = hmac.digest(k, service.encode("utf-8"), "sha256")
    return hmac.digest(k, b"aws4_request", "sha256")


def sign(key: bytes, text: str) -> str:
    """Hex HMAC-SHA256 of ``text`` (a string to sign) under ``key``."""
    return hmac.new(key, text.encode("utf-8"), "sha256").hexdigest()


# ------------------------------------------------------------------------------- time helpers

_LAST_AMZ_DATE: list[tuple[str, datetime]] = [("", datetime.min)]


def _parse_amz_date(value: str) -> datetime | None:
    """``YYYYMMDDTHHMMSSZ`` to an aware UTC datetime (no strptime: this is per request); the
    last one parsed is remembered (requests of the same second carry the same value)."""
    last = _LAST_AMZ_DATE[0]
    if last[0] == value:
        return last[1]
    parsed = _amz_date(value)
    if parsed is not None:
        _LAST_AMZ_DATE[0] = (value, parsed)
    return parsed


def _amz_date(value: str) -> datetime | None:
    if (len(value) != 16 or value[8] != "T" or value[15] != "Z" or not value.isascii()
            or not value[:8].isdigit() or not value[9:15].isdigit()):
        return None
    try:
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=_UTC)
    except ValueError:
        return None


def _format_amz_date(t: datetime) -> str:
    return t.astimezone(_UTC).strftime("%Y%m%dT%H%M%SZ")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(_UTC)
    return now.replace(tzinfo=_UTC) if now.tzinfo is None else now


# ------------------------------------------------------------------------------ verification

@dataclass(slots=True)
class SignedRequest:
    """What a verified request proves; the chunk decoder needs the signing fields. Read only
    (not frozen: built once per signed request, where a frozen init costs ~1 us more)."""

    access_key: str
    region: str
    service: str
    scope: str  # date/region/service/aws4_request
    amz_date: str  # YYYYMMDDTHHMMSSZ as signed
    signature: str  # the request (seed) signature, lowercase hex
    signing_key: bytes = field(repr=False)
    content_sha256: str  # the signed payload hash / UNSIGNED-PAYLOAD / STREAMING-*
    presigned: bool
    security_token: str | None
    signed_headers: tuple[str, ...]
    expires_at: datetime | None = None  # presigned only


@dataclass(slots=True)
class RequestAuth:
    """A request's SigV4 credentials, parsed but not yet verified (see ``parse_request_auth``)."""

    access_key: str
    region: str
    presigned: bool
    security_token: str | None
    amz_date: str
    request_time: datetime
    _auth: AuthorizationHeader
    _method: str
    _raw_path: str | bytes
    _query: list[tuple[str, str]]
    _headers: Mapping[str, list[str]]
    _payload_hash: str
    _expires: int | None = None

    @property
    def scope(self) -> str:
        return self._auth.scope

    def verify(self, secret_key: str, now: datetime | None = None, *,
               region: str | None = None) -> SignedRequest:
        """Check time window, unsigned ``x-amz-*`` headers and the signature.

        ``region``, if given, must equal the credential-scope region. Raises Forbidden
        (SignatureDoesNotMatch, RequestTimeTooSkewed, AccessDenied) or Invalid.
        """
        a = self._auth
        if region is not None and a.region != region:
            raise _malformed(f"the region '{a.region}' is wrong; expecting '{region}'",
                             self.presigned)
        now = _utc(now)
        expires_at = self._check_time(now)
        unsigned = [h for h in self._headers if h.startswith("x-amz-")
                    and h not in a.signed_headers]
        if unsigned:
            raise Forbidden("There were headers present in the request which were not signed",
                            s3_code="AccessDenied", HeadersNotSigned=", ".join(sorted(unsigned)))
        key = signing_key(secret_key, a.date, a.region, a.service)
        cr = canonical_request(self._method, self._raw_path, self._query, self._headers,
                               a.signed_headers, self._payload_hash, presigned=self.presigned)
        sts = string_to_sign(self.amz_date, a.scope, cr)
        if not hmac.compare_digest(sign(key, sts), a.signature) and not self._as_sent_matches(
                key, cr):
            raise signature_mismatch(AWSAccessKeyId=a.access_key, StringToSign=sts,
                                     SignatureProvided=a.signature, CanonicalRequest=cr)
        return SignedRequest(a.access_key, a.region, a.service, a.scope, self.amz_date,
                             a.signature, key, self._payload_hash, self.presigned,
                             self.security_token, a.signed_headers, expires_at)

    def _as_sent_matches(self, key: bytes, normalised_cr: str) -> bool:
        """Second chance: path and query exactly as sent (clients that under-encode)."""
        path = _text(self._raw_path) or "/"
        query = "&".join([f"{n}={v}" for n, v in sorted(
            p for p in self._query if not (self.presigned and p[0] == "X-Amz-Signature"))])
        lines = normalised_cr.split("\n", 3)
        if lines[1] == path and lines[2] == query:
            return False
        cr = "\n".join((lines[0], path, query, lines[3]))
        sts = string_to_sign(self.amz_date, self._auth.scope, cr)
        return hmac.compare_digest(sign(key, sts), self._auth.signature)

    def _check_time(self, now: datetime) -> datetime | None:
        t = self.request_time
        if not self.presigned:
            if abs(now - t) > MAX_SKEW:
                raise Forbidden(REQUEST_TIME_SKEWED_MESSAGE, s3_code="RequestTimeTooSkewed",
                                RequestTime=self.amz_date, ServerTime=_format_amz_date(now),
                                MaxAllowedSkewMilliseconds=_MAX_SKEW_MS)
            return None
        if t - now > MAX_SKEW:
            # detail keys use '_' for '-' (kosha.s3.error renders X_Amz_Expires as X-Amz-Expires)
            raise Forbidden("Request is not valid yet", s3_code="AccessDenied",
                            X_Amz_Date=self.amz_date, ServerTime=_format_amz_date(now))
        expires_at = t + timedelta(seconds=self._expires or 0)
        if now > expires_at:
            raise Forbidden("Request has expired", s3_code="AccessDenied",
                            X_Amz_Expires=str(self._expires),
                            Expires=_format_amz_date(expires_at), ServerTime=_format_amz_date(now))
        return expires_at


def _request_time(hm: Mapping[str, list[str]]) -> tuple[str, datetime]:
    """x-amz-date (preferred) or Date, as (signed timestamp string, aware datetime)."""
    amz = first(hm, "x-amz-date")
    if amz is not None:
        t = _parse_amz_date(amz.strip())
        if t is None:
            raise Forbidden("AWS authentication requires a valid Date or x-amz-date header",
                            s3_code="AccessDenied")
        return amz.strip(), t
    date = first(hm, "date")
    if date is not None:
        try:
            t = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            t = None
        if t is not None:
            t = t.replace(tzinfo=_UTC) if t.tzinfo is None else t.astimezone(_UTC)
            return _format_amz_date(t), t
    raise Forbidden("AWS authentication requires a valid Date or x-amz-date header",
                    s3_code="AccessDenied")


def parse_request_auth(method: str, raw_path: str | bytes, raw_query: str | bytes,
                       headers: HeaderInput) -> RequestAuth | None:
    """Identify how a request is authenticated, without the secret.

    Returns None for anonymous requests, else a ``RequestAuth`` whose ``access_key`` the caller
    resolves to a secret before calling ``verify``. ``raw_path``/``raw_query`` are the request
    target exactly as received (ASGI ``scope["raw_path"]`` and ``scope["query_string"]``);
    ``headers`` may be ASGI's ``[(bytes, bytes), ...]`` (values are taken as latin-1).
    Raises Invalid for malformed or unsupported (SigV4a) credentials, and for Signature V2,
    which is not this module's: the S3 app asks ``kosha.s3.signature.v2.parse_v2_auth`` first.
    """
    hm = header_map(headers)
    authz = first(hm, "authorization")
    query_text = _text(raw_query)
    query = _query_pairs(query_text)
    params: dict[str, str] | None = None
    if query and ("X-Amz-" in query_text or "Signature" in query_text):
        params = {}
        for n, v in query:
            if n.startswith("X-Amz-") or n in ("AWSAccessKeyId", "Signature"):
                params.setdefault(n, unquote(v))
        if "AWSAccessKeyId" in params and "Signature" in params:
            raise Invalid(_V2_MESSAGE, s3_code="InvalidRequest")
        if "X-Amz-Algorithm" not in params and "X-Amz-Credential" not in params \
                and "X-Amz-Signature" not in params:
            params = None
    if authz is not None:
        if params is not None:
            raise Invalid("Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                          "parameter, Signature query string parameter or the Authorization "
                          "header should be specified", s3_code="InvalidArgument")
        return _header_auth(method, raw_path, query, hm, authz)
    if params is not None:
        return _presigned_auth(method, raw_path, query, hm, params)
    return None


def _header_auth(method: str, raw_path: str | bytes, query: list[tuple[str, str]],
                 hm: Mapping[str, list[str]], authz: str) -> RequestAuth:
    a = parse_authorization(authz)
    amz_date, t = _request_time(hm)
    if amz_date[:8] != a.date:
        raise _malformed(f"Invalid credential date \"{a.date}\". This date is not the same as "
                         f"X-Amz-Date: \"{amz_date[:8]}\".", False)
    # S3 requires x-amz-content-sha256; a generic SigV4 client without it signed an empty body.
    payload = (first(hm, "x-amz-content-sha256") or EMPTY_SHA256).strip()
    return RequestAuth(access_key=a.access_key, region=a.region, presigned=False,
                       security_token=first(hm, "x-amz-security-token"), amz_date=amz_date,
                       request_time=t, _auth=a, _method=method, _raw_path=raw_path,
                       _query=query, _headers=hm, _payload_hash=payload)


def _presigned_auth(method: str, raw_path: str | bytes, query: list[tuple[str, str]],
                    hm: Mapping[str, list[str]], params: dict[str, str]) -> RequestAuth:
    try:
        algorithm = params["X-Amz-Algorithm"]
        cred, amz_date = params["X-Amz-Credential"], params["X-Amz-Date"]
        expires_s, signed = params["X-Amz-Expires"], params["X-Amz-SignedHeaders"]
        sig = params["X-Amz-Signature"]
    except KeyError:
        raise Invalid(_QUERY_PARAMS_MESSAGE, s3_code="AuthorizationQueryParametersError") from None
    if algorithm != ALGORITHM:
        raise Invalid("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
                      s3_code="AuthorizationQueryParametersError")
    access_key, date, region, service = _parse_credential(cred, True)
    t = _parse_amz_date(amz_date)
    if t is None:
        raise Invalid("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
                      s3_code="AuthorizationQueryParametersError")
    if amz_date[:8] != date:
        raise Invalid(f"Invalid credential date \"{date}\". This date is not the same as "
                      f"X-Amz-Date: \"{amz_date[:8]}\".",
                      s3_code="AuthorizationQueryParametersError")
    if not (expires_s.isascii() and expires_s.isdigit()):
        raise Invalid("X-Amz-Expires should be a number",
                      s3_code="AuthorizationQueryParametersError")
    expires = int(expires_s)
    if expires > MAX_PRESIGN_EXPIRES:
        raise Invalid("X-Amz-Expires must be less than a week (in seconds) that is 604800",
                      s3_code="AuthorizationQueryParametersError")
    names = _parse_signed_headers(signed, True)
    a = AuthorizationHeader(access_key, date, region, service, names, _parse_signature(sig, True))
    if "x-amz-content-sha256" in names:
        payload = (first(hm, "x-amz-content-sha256") or UNSIGNED_PAYLOAD).strip()
    else:
        payload = params.get("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)
    token = params.get("X-Amz-Security-Token") or first(hm, "x-amz-security-token")
    return RequestAuth(access_key=access_key, region=region, presigned=True,
                       security_token=token, amz_date=amz_date, request_time=t, _auth=a,
                       _method=method, _raw_path=raw_path, _query=query, _headers=hm,
                       _payload_hash=payload, _expires=expires)


def verify_header_auth(method: str, raw_path: str | bytes, raw_query: str | bytes,
                       headers: HeaderInput, secret_key: str,
                       now: datetime | None = None) -> SignedRequest:
    """One-shot verification of an Authorization-header request (tests, single-key setups)."""
    auth = parse_request_auth(method, raw_path, raw_query, headers)
    if auth is None or auth.presigned:
        raise Forbidden("Access Denied", s3_code="AccessDenied")
    return auth.verify(secret_key, now)


# ------------------------------------------------------------------------------- presigning

def presign_url(method: str, endpoint: str, bucket: str, key: str | None, access_key: str,
                secret_key: str, region: str, expires_seconds: int, now: datetime | None = None,
                extra_query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None, *,
                security_token: str | None = None) -> str:
    """A path-style presigned URL, byte-identical to botocore's (pure-Python signer) output.

    ``extra_query`` (e.g. ``{"response-content-type": "text/plain"}``) is signed and placed
    before the X-Amz-* parameters, as botocore does.
    """
    if not 0 <= expires_seconds <= MAX_PRESIGN_EXPIRES:
        raise Invalid("expires_seconds must be between 0 and 604800")
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") + "/" + quote(bucket, safe="~")
    if key is not None:
        path += "/" + quote(key.encode("utf-8"), safe="/~")
    amz_date = _format_amz_date(_utc(now))
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    pairs: list[tuple[str, str]] = []
    if extra_query:
        items = extra_query.items() if isinstance(extra_query, Mapping) else extra_query
        pairs = [(quote(str(k), safe="-_.~"), quote(str(v), safe="-_.~")) for k, v in items]
    auth_params = [("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{access_key}/{scope}"),
                   ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(expires_seconds)),
                   ("X-Amz-SignedHeaders", "host")]
    if security_token is not None:
        auth_params.append(("X-Amz-Security-Token", security_token))
    pairs += [(k, quote(v, safe="-_.~")) for k, v in auth_params]
    cr = "\n".join((method, canonical_uri(path), canonical_query(pairs), f"host:{host}\n",
                    "host", UNSIGNED_PAYLOAD))
    signature = sign(signing_key(secret_key, amz_date[:8], region, "s3"),
                     string_to_sign(amz_date, scope, cr))
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{parts.scheme}://{parts.netloc}{path}?{query}&X-Amz-Signature={signature}"
