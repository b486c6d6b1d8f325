"""POST Object: browser form uploads with a policy document signed with SigV4 (what boto3's
`generate_presigned_post` makes) or Signature V2 (`AWSAccessKeyId` and `signature` fields, what
older SDKs and Ceph's s3-tests make).

The multipart/form-data body is parsed as it streams: the form fields come first and are checked
(signature, policy expiry and conditions) before any byte of the `file` field is stored; the file
then streams into the object service like any PUT, with `content-length-range` enforced on the way.
Fields after `file` are ignored, as S3 does.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import Forbidden, Invalid, NotImplementedYet
from . import tagging, xml
from .acl import OBJECT_CANNED
from .auth import lookup_secret
from .put import STORAGE_CLASSES, STORED_HEADERS, MAX_USER_META
from .request import S3Request, S3Response, empty_response, xml_response
from .signature.v2 import policy_signature
from .signature.v4 import ALGORITHM, signature_mismatch, signing_key
from .xml import el

_ISO8601_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
MAX_FIELD = 64 * 1024
MAX_FIELDS_TOTAL = 1024 * 1024
# Fields that need no policy condition.
EXEMPT = frozenset({"policy", "x-amz-signature", "file", "awsaccesskeyid", "signature"})


def _malformed(message: str) -> Invalid:
    return Invalid(message, s3_code="MalformedPOSTRequest")


def _policy_failed(message: str) -> Forbidden:
    return Forbidden(f"Invalid according to Policy: {message}", s3_code="AccessDenied")


class _Form:
    """Pull-style events over python-multipart's push parser: ("begin", name, filename),
    ("data", bytes), ("end",)."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes) -> None:
        self._body = body.__aiter__()
        self._events: deque[tuple[Any, ...]] = deque()
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._done = False
        callbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
        }
        self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = b""
        self._value = b""

    def _on_headers_finished(self) -> None:
        disp, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        ctype = self._headers.get(b"content-type")
        self._events.append(("begin", name,
                             filename.decode("utf-8", "replace") if filename is not None else None,
                             ctype.decode("latin-1") if ctype else None))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            chunk = bytes(data[start:end])
            last = self._events[-1] if self._events else None
            if last is not None and last[0] == "data":
                self._events[-1] = ("data", last[1] + chunk)
            else:
                self._events.append(("data", chunk))

    def _on_part_end(self) -> None:
        self._events.append(("end",))

    async def next(self) -> tuple[Any, ...] | None:
        while not self._events:
            if self._done:
                return None
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._done = True
                try:
                    self._parser.finalize()
                except Exception:
                    raise _malformed("The body of your POST request is not well-formed "
                                     "multipart/form-data.") from None
                continue
            try:
                self._parser.write(chunk)
            except Exception:
                raise _malformed("The body of your POST request is not well-formed "
                                 "multipart/form-data.") from None
        return self._events.popleft()


def _boundary(ctype: str) -> bytes:
    _, params = parse_options_header(ctype)
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 70:   # RFC 2046 allows 1 to 70 characters
        raise _malformed("The body of your POST request is not well-formed multipart/form-data.")
    return boundary


async def _read_fields(form: _Form) -> tuple[dict[str, str], str | None, str | None]:
    """Fields up to the `file` part: ({lowercase name: value}, filename, file content type)."""
    fields: dict[str, str] = {}
    total = 0
    while True:
        ev = await form.next()
        if ev is None:
            raise Invalid("POST requires exactly one file upload per request.",
                          s3_code="InvalidArgument", ArgumentName="file")
        if ev[0] != "begin":
            continue
        _, name, filename, ctype = ev
        lname = name.lower()
        if lname == "file":
            return fields, filename or "", ctype
        buf = bytearray()
        while True:
            ev = await form.next()
            if ev is None or ev[0] == "end":
                break
            if ev[0] == "data":
                buf += ev[1]
                total += len(ev[1])
                if len(buf) > MAX_FIELD or total > MAX_FIELDS_TOTAL:
                    raise Invalid("Your POST request fields preceeding the upload file were too "
                                  "large.", s3_code="MaxPostPreDataLengthExceeded")
        if lname not in fields:
            fields[lname] = buf.decode("utf-8", "replace")


def _check_policy(policy: dict[str, Any], fields: dict[str, str], bucket: str
                  ) -> tuple[int, int | None]:
    """Expiry and conditions; returns the content-length-range (min, max)."""
    expiration = policy.get("expiration")
    if not isinstance(expiration, str):
        raise Invalid("Invalid Policy: Invalid 'expiration' value.",
                      s3_code="InvalidPolicyDocument")
    if not _ISO8601_UTC.fullmatch(expiration):   # S3 takes only 2007-12-01T12:00:00.000Z
        raise Invalid("Invalid Policy: Invalid 'expiration' value: " + expiration,
                      s3_code="InvalidPolicyDocument")
    try:
        exp = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("Invalid Policy: Invalid 'expiration' value: " + expiration,
                      s3_code="InvalidPolicyDocument") from None
    if exp.tzinfo is None:
        exp = exp.replace(tzinfo=timezone.utc)
    if exp < datetime.now(timezone.utc):
        raise _policy_failed("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise Invalid("Invalid Policy: Invalid 'conditions' value.",
                      s3_code="InvalidPolicyDocument")
    values = dict(fields)
    values["bucket"] = bucket
    covered: set[str] = {"bucket"}
    lo, hi = 0, None
    for cond in conditions:
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise Invalid("Invalid Policy: Invalid Simple-Condition: Simple-Conditions must "
                              "have exactly one property specified.",
                              s3_code="InvalidPolicyDocument")
            name, want = next(iter(cond.items()))
            op = "eq"
            name = "$" + str(name)
        elif isinstance(cond, list) and len(cond) == 3:
            op = str(cond[0]).lower()
            if op == "content-length-range":
                try:
                    lo, hi = int(cond[1]), int(cond[2])
                except (TypeError, ValueError):
                    raise Invalid("Invalid Policy: Invalid content-length-range.",
                                  s3_code="InvalidPolicyDocument") from None
                continue
            name, want = cond[1], cond[2]
        else:
            raise Invalid("Invalid Policy: Invalid condition.", s3_code="InvalidPolicyDocument")
        if not isinstance(name, str) or not name.startswith("$") or not isinstance(want, str):
            raise Invalid("Invalid Policy: Invalid condition.", s3_code="InvalidPolicyDocument")
        field = name[1:].lower()
        have = values.get(field)
        covered.add(field)
        if op == "eq":
            if have != want:
                raise _policy_failed(f'Policy Condition failed: ["eq", "{name}", "{want}"]')
        elif op == "starts-with":
            have = have or ""
            if field == "content-type":
                ok = all(v.strip().startswith(want) for v in have.split(","))
            else:
                ok = have.startswith(want)
            if not ok:
                raise _policy_failed(f'Policy Condition failed: ["starts-with", "{name}", '
                                     f'"{want}"]')
        else:
            raise Invalid(f"Invalid Policy: Invalid condition operator {op}.",
                          s3_code="InvalidPolicyDocument")
    for field in fields:
        if field in EXEMPT or field.startswith("x-ignore-") or field in covered:
            continue
        raise _policy_failed(f"Extra input fields: {field}")
    return lo, hi


async def _authenticate(req: S3Request, fields: dict[str, str]) -> None:
    policy_b64 = fields.get("policy")
    if policy_b64 is None:
        if {"x-amz-signature", "x-amz-credential", "awsaccesskeyid", "signature"} & fields.keys():
            raise Invalid("Bucket POST must contain a field named 'policy'.",
                          s3_code="InvalidArgument", ArgumentName="policy")
        return   # anonymous: the bucket decides
    if "x-amz-signature" not in fields and ("awsaccesskeyid" in fields or "signature" in fields):
        await _authenticate_v2(req, fields, policy_b64)
        return
    for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
        if name not in fields:
            raise Invalid(f"Bucket POST must contain a field named '{name}'.",
                          s3_code="InvalidArgument", ArgumentName=name)
    if fields["x-amz-algorithm"] != ALGORITHM:
        raise Invalid("Only AWS4-HMAC-SHA256 is supported", s3_code="InvalidArgument",
                      ArgumentName="x-amz-algorithm")
    parts = fields["x-amz-credential"].rsplit("/", 4)
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
        raise Invalid("Invalid x-amz-credential", s3_code="InvalidArgument",
                      ArgumentName="x-amz-credential")
    access_key, date, region, service, _ = parts
    secret, principal = await lookup_secret(req.kosha, access_key)
    key = signing_key(secret, date, region, service)
    expected = hmac.new(key, policy_b64.encode("utf-8"), "sha256").hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"].strip().lower()):
        raise signature_mismatch(AWSAccessKeyId=access_key)
    req.principal = principal


async def _authenticate_v2(req: S3Request, fields: dict[str, str], policy_b64: str) -> None:
    """A policy signed with Signature V2: base64(HMAC-SHA1(secret, policy))."""
    for name in ("awsaccesskeyid", "signature"):
        if not fields.get(name):
            raise Invalid(f"Bucket POST must contain a field named '{name}'.",
                          s3_code="InvalidArgument", ArgumentName=name)
    access_key = fields["awsaccesskeyid"].strip()
    secret, principal = await lookup_secret(req.kosha, access_key)
    expected = policy_signature(secret, policy_b64).encode("ascii")
    if not hmac.compare_digest(expected, fields["signature"].strip().encode("ascii", "replace")):
        raise signature_mismatch(AWSAccessKeyId=access_key)
    req.principal = principal


def _policy(fields: dict[str, str]) -> dict[str, Any] | None:
    raw = fields.get("policy")
    if raw is None:
        return None
    try:
        doc = json.loads(base64.b64decode(raw, validate=False))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("Invalid Policy: Invalid JSON.", s3_code="InvalidPolicyDocument") from None
    if not isinstance(doc, dict):
        raise Invalid("Invalid Policy: Invalid JSON.", s3_code="InvalidPolicyDocument")
    return doc


async def _file_body(form: _Form, lo: int, hi: int | None) -> AsyncIterator[bytes]:
    size = 0
    while True:
        ev = await form.next()
        if ev is None or ev[0] == "end":
            break
        if ev[0] == "data":
            size += len(ev[1])
            if hi is not None and size > hi:
                raise Invalid("Your proposed upload exceeds the maximum allowed size",
                              s3_code="EntityTooLarge", MaxSizeAllowed=hi)
            yield ev[1]
    if size < lo:
        raise Invalid("Your proposed upload is smaller than the minimum allowed size",
                      s3_code="EntityTooSmall", MinSizeAllowed=lo)
    while await form.next() is not None:   # fields after the file are ignored
        pass


async def post_object(req: S3Request) -> S3Response:
    assert req.bucket is not None
    form = _Form(req.stream(), _boundary(req.headers.get("content-type", "")))
    fields, filename, _file_ctype = await _read_fields(form)
    await _authenticate(req, fields)
    policy = _policy(fields)
    bucket = await req.bucket_for()
    key = fields.get("key")
    if key is None:
        raise Invalid("Bucket POST must contain a field named 'key'.  If it is specified, "
                      "please check the order of the fields.", s3_code="InvalidArgument",
                      ArgumentName="key")
    # The policy's conditions see the key with ${filename} already replaced, as S3 and RGW check.
    key = fields["key"] = key.replace("${filename}", filename or "")
    lo, hi = (0, None)
    if policy is not None:
        lo, hi = _check_policy(policy, fields, bucket.name)
    if not key:
        raise Invalid("User key must have a length greater than 0.", s3_code="InvalidArgument")
    req.key = key
    headers = {h: fields[h] for h in STORED_HEADERS if h in fields}
    meta = {k[11:]: v for k, v in fields.items() if k.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in meta.items()) > MAX_USER_META:
        raise Invalid("Your metadata headers exceed the maximum allowed metadata size",
                      s3_code="MetadataTooLarge")
    tags = None
    if "tagging" in fields:
        tags = tagging.parse_document(fields["tagging"].encode("utf-8"), tagging.MAX_OBJECT_TAGS)
    sc = fields.get("x-amz-storage-class")
    if sc is not None and sc not in STORAGE_CLASSES:
        raise Invalid("The storage class you specified is not valid",
                      s3_code="InvalidStorageClass")
    acl = fields.get("acl")
    if acl is not None and acl.strip() not in OBJECT_CANNED:
        raise Invalid(f"Invalid canned ACL {acl!r}", s3_code="InvalidArgument",
                      ArgumentName="acl", ArgumentValue=acl)
    acl = acl.strip() if acl is not None else None
    if any(f.startswith("x-amz-server-side-encryption") for f in fields):
        raise NotImplementedYet("Server-side encryption is not supported",
                                s3_code="NotImplemented")
    version = await req.kosha.objects.put(
        req.principal, bucket.name, key, _file_body(form, lo, hi),
        content_type=fields.get("content-type"), headers=headers, user_meta=meta, tags=tags,
        acl=acl, storage_class=sc, event="ObjectCreated:Post")
    location = f"/{bucket.name}/{quote(key)}"
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect:
        sep = "&" if "?" in redirect else "?"
        target = (f"{redirect}{sep}bucket={quote(bucket.name)}&key={quote(key)}"
                  f"&etag={quote(version.quoted_etag)}")
        resp = empty_response(303)
        resp.add("location", target)
    else:
        status = fields.get("success_action_status", "204")
        if status == "201":
            resp = xml_response(xml.doc(
                "PostResponse", el("Location", location), el("Bucket", bucket.name),
                el("Key", key), el("ETag", version.quoted_etag), ns=False), 201)
        else:
            resp = empty_response(200 if status == "200" else 204)
        resp.add("location", location)
    resp.add("etag", version.quoted_etag)
    if bucket.versioning and version.version_id != "null":
        resp.add("x-amz-version-id", version.version_id)
    return resp
