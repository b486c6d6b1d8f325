"""The request and response objects S3 handlers see (plain classes over ASGI, no framework)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from ..errors import Forbidden, Invalid, KoshaError, NotFound, TooLarge
from ..services.models import Bucket
from ..services.principal import ANONYMOUS, Principal

if TYPE_CHECKING:
    from ..services.container import Kosha
    from .router import Op
    from .signature.v4 import SignedRequest

XML_TYPE = b"application/xml"


_RID_PREFIX = secrets.token_hex(4).upper()
_rid_counter = itertools.count(1)


def new_request_id() -> str:
    """Unique per process start and request: a random prefix and a counter (no syscall)."""
    return f"{_RID_PREFIX}{next(_rid_counter):08X}"


def parse_query(qs: str) -> dict[str, str]:
    """`a=1&b&c=%2F` → {'a': '1', 'b': '', 'c': '/'}; the first of repeated names wins."""
    out: dict[str, str] = {}
    if not qs:
        return out
    for part in qs.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        if name not in out:
            out[name] = value
    return out


class S3Request:
    """One S3 request: parsed once, then handed to exactly one handler."""

    __slots__ = ("kosha", "scope", "receive", "method", "raw_path", "query_string", "query",
                 "hmap", "headers", "client_ip", "host", "bucket", "key", "op", "request_id",
                 "principal", "signed", "_bucket", "body_consumed", "secure")

    def __init__(self, kosha: Kosha, scope: dict[str, Any], receive: Any) -> None:
        self.kosha = kosha
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        raw = scope.get("raw_path")
        if raw:
            path = raw.decode("latin-1")
            q = path.find("?")          # some servers leave the query on raw_path
            self.raw_path = path if q < 0 else path[:q]
        else:
            from urllib.parse import quote
            self.raw_path = quote(scope["path"].encode("utf-8"), safe="/")
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        self.query = parse_query(self.query_string)
        hmap: dict[str, list[str]] = {}
        headers: dict[str, str] = {}
        for name_b, value_b in scope["headers"]:
            name = name_b.decode("latin-1").lower()
            value = value_b.decode("latin-1")
            lst = hmap.get(name)
            if lst is None:
                hmap[name] = [value]
                headers[name] = value
            else:
                lst.append(value)
                headers[name] = headers[name] + "," + value
        self.hmap = hmap
        self.headers = headers
        client = scope.get("client")
        self.client_ip: str = client[0] if client else ""
        # Over TLS (`--tls-cert`): what policies read as aws:SecureTransport.
        self.secure: bool = scope.get("scheme") == "https"
        self.host = headers.get("host")
        self.bucket: str | None = None
        self.key: str | None = None
        self.op: Op | None = None
        self.request_id = new_request_id()
        self.principal: Principal = ANONYMOUS
        self.signed: SignedRequest | None = None
        self._bucket: Bucket | None = None
        self.body_consumed = False

    # -- identity and the bucket ----------------------------------------------------------------
    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")

    async def bucket_for(self, action: str | None = None, *, write: bool | None = None,
                         name: str | None = None, key: str | None = None) -> Bucket:
        """Resolve a bucket for this principal and action, and apply its S3 address policy.

        Without `name`, the request's bucket (cached on the request for the handler's reuse).
        """
        own = name is None
        if own and self._bucket is not None and action is None:
            return self._bucket
        assert self.op is not None
        bucket_name = self.bucket if own else name
        if bucket_name is None:
            raise NotFound("The specified bucket does not exist", s3_code="NoSuchBucket")
        bucket = await self.kosha.buckets.resolve(
            self.principal, bucket_name, action or self.op.action,
            key=key if key is not None else (self.key if own else None))
        expected_owner = self.headers.get("x-amz-expected-bucket-owner")
        if expected_owner is not None and expected_owner != bucket.account_id:
            raise Forbidden("Access Denied", s3_code="AccessDenied")
        check = self.kosha.bucket_policies.check_s3_access(
            bucket, self.client_ip, self.op.write if write is None else write)
        if check is not None and hasattr(check, "__await__"):
            await check
        if own:
            self._bucket = bucket
        return bucket

    # -- the body -------------------------------------------------------------------------------
    def stream(self) -> AsyncIterator[bytes]:
        """The raw request body, chunk by chunk as the server receives it (once: a second
        stream is empty)."""
        return _BodyStream(self)

    def payload(self, body_checksum: bool = True) -> Any:
        """The body decoded (aws-chunked) and verified (signatures, sha256, MD5, and the
        `x-amz-checksum-*` unless they describe something else: `body_checksum=False`)."""
        from .signature.payload import wrap_payload
        return wrap_payload(self.stream(), self.hmap, self.signed, body_checksum=body_checksum)

    async def read_body(self, limit: int = 1024 * 1024, body_checksum: bool = True) -> bytes:
        """The whole (small) verified body, for XML documents; refuses more than `limit` bytes."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit * 2:
            raise TooLarge("Your request was too big.", s3_code="MaxMessageLengthExceeded")
        buf = bytearray()
        async for chunk in self.payload(body_checksum):
            buf += chunk
            if len(buf) > limit:
                raise TooLarge("Your request was too big.", s3_code="MaxMessageLengthExceeded")
        return bytes(buf)

    def version_id(self) -> str | None:
        """The `versionId` query parameter (None when absent; empty is an error, as in S3)."""
        vid = self.query.get("versionId")
        if vid == "":
            raise Invalid("Version id cannot be the empty string", s3_code="InvalidArgument",
                          ArgumentName="versionId", ArgumentValue="")
        return vid

    def int_query(self, name: str, default: int | None = None, *, lo: int | None = None,
                  hi: int | None = None, code: str = "InvalidArgument") -> int | None:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Invalid(f"Provided {name} not an integer or within integer range",
                          s3_code=code, ArgumentName=name, ArgumentValue=raw) from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise Invalid(f"Argument {name} must be an integer between {lo} and {hi}",
                          s3_code=code, ArgumentName=name, ArgumentValue=raw)
        return value


class _BodyStream:
    """The request body's chunks from ASGI `receive`: an iterator class, not an async generator
    (the loop registers every async generator it starts: a `WeakSet` entry and a finalizer)."""

    __slots__ = ("_req", "_started", "_done")

    def __init__(self, req: S3Request) -> None:
        self._req = req
        self._started = False
        self._done = False

    def __aiter__(self) -> _BodyStream:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        req = self._req
        if not self._started:           # the body is claimed at the first step, as before
            self._started = True
            if req.body_consumed:
                self._done = True
                raise StopAsyncIteration
            req.body_consumed = True
        receive = req.receive
        while True:
            message = await receive()
            mtype = message["type"]
            if mtype == "http.request":
                if not message.get("more_body", False):
                    self._done = True
                body = message.get("body", b"")
                if body:
                    return body  # type: ignore[no-any-return]
                if self._done:
                    raise StopAsyncIteration
            elif mtype == "http.disconnect":
                self._done = True
                raise ClientGone()


class ClientGone(KoshaError):
    """The client disconnected while we were reading its body."""
    status = 400
    s3_code = "IncompleteBody"

    def __init__(self) -> None:
        super().__init__("The client closed the connection before sending the whole body")


class S3Response:
    """Status, headers, and either a bytes body or an async iterator of chunks."""

    __slots__ = ("status", "headers", "body", "stream")

    def __init__(self, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None,
                 body: bytes = b"", stream: AsyncIterator[bytes] | None = None) -> None:
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body
        self.stream = stream

    def add(self, name: str, value: object) -> None:
        """Add a header; values with non-Latin-1 characters are sent as UTF-8 bytes."""
        v = value if isinstance(value, str) else str(value)
        try:
            vb = v.encode("latin-1")
        except UnicodeEncodeError:
            vb = v.encode("utf-8")
        self.headers.append((name.encode("latin-1"), vb))


def xml_response(body: bytes, status: int = 200) -> S3Response:
    return S3Response(status, [(b"content-type", XML_TYPE),
                               (b"content-length", str(len(body)).encode())], body)


def empty_response(status: int = 200) -> S3Response:
    return S3Response(status, [(b"content-length", b"0")] if status != 204 else [])
