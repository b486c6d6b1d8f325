"""Shared test helpers: sign requests with botocore (pure Python and CRT) and feed bodies."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from unittest import mock
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

try:
    from botocore.crt.auth import CrtS3SigV4Auth, CrtS3SigV4QueryAuth
except ImportError:  # awscrt missing
    CrtS3SigV4Auth = CrtS3SigV4QueryAuth = None

ACCESS = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:9000"
FIXED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
SIGNERS = ["python"] + (["crt"] if CrtS3SigV4Auth is not None else [])


@dataclass
class Wire:
    """A request as the server sees it."""

    method: str
    raw_path: bytes
    raw_query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.decode().lower() == name:
                return v.decode("latin-1")
        return None

    def replace_header(self, name: str, value: str) -> Wire:
        hs = [(k, v) for k, v in self.headers if k.decode().lower() != name]
        hs.append((name.encode(), value.encode("latin-1")))
        return Wire(self.method, self.raw_path, self.raw_query, hs, self.body)


@contextmanager
def frozen_time(at: datetime = FIXED):
    """Pin botocore's clock (both the pure-Python and the CRT signers read it)."""

    def now(remove_tzinfo: bool = True) -> datetime:
        return at.replace(tzinfo=None) if remove_tzinfo else at

    with mock.patch("botocore.auth.get_current_datetime", now):
        if CrtS3SigV4Auth is not None:
            with mock.patch("botocore.crt.auth.get_current_datetime", now):
                yield
        else:
            yield


def object_url(bucket: str, key: str, query: str = "", endpoint: str = ENDPOINT) -> str:
    """URL the way botocore's serializer builds it (key quoted with safe='/~')."""
    url = f"{endpoint}/{bucket}/{quote(key.encode('utf-8'), safe='/~')}"
    return url + ("?" + query if query else "")


def to_wire(method: str, url: str, headers, body: bytes) -> Wire:
    parts = urlsplit(url)
    hs: list[tuple[bytes, bytes]] = []
    have_host = False
    for k, v in headers.items():
        if isinstance(v, str):
            v = v.encode("latin-1")
        hs.append((k.lower().encode(), v))
        have_host |= k.lower() == "host"
    if not have_host:  # what http.client adds on the wire
        hs.append((b"host", _host_from_url(url).encode()))
    if body and not any(k == b"content-length" for k, _ in hs):
        hs.append((b"content-length", str(len(body)).encode()))
    return Wire(method, parts.path.encode(), parts.query.encode(), hs, body)


def sign_request(method: str, url: str, headers: dict | None = None, body: bytes = b"", *,
                 signer: str = "python", at: datetime = FIXED, secret: str = SECRET,
                 token: str | None = None, region: str = REGION,
                 auth_cls=None) -> Wire:
    """Sign with botocore's S3 SigV4 header signer and return what goes on the wire."""
    creds = Credentials(ACCESS, secret, token)
    if auth_cls is None:
        auth_cls = S3SigV4Auth if signer == "python" else CrtS3SigV4Auth
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    with frozen_time(at):
        auth_cls(creds, "s3", region).add_auth(req)
    return to_wire(method, req.url, req.headers, body)


def presign(method: str, url: str, expires: int = 3600, *, signer: str = "python",
            at: datetime = FIXED, token: str | None = None, secret: str = SECRET) -> Wire:
    """Presign with botocore's S3 SigV4 query signer."""
    creds = Credentials(ACCESS, secret, token)
    cls = S3SigV4QueryAuth if signer == "python" else CrtS3SigV4QueryAuth
    req = AWSRequest(method=method, url=url, headers={})
    with frozen_time(at):
        cls(creds, "s3", REGION, expires=expires).add_auth(req)
    return to_wire(method, req.url, {}, b"")


async def pieces(data: bytes, sizes: Iterable[int] | int) -> AsyncIterator[bytes]:
    """Yield ``data`` cut at the given sizes (cycled), mimicking arbitrary network reads."""
    if isinstance(sizes, int):
        sizes = [sizes]
    sizes = [max(1, s) for s in sizes] or [len(data) or 1]
    i = k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        yield data[i:i + n]
        i += n
        k += 1


async def collect(it) -> bytes:
    return b"".join([p async for p in it])


# ------------------------------------------------------------ signed aws-chunked encoder

def _hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()


def encode_signed_chunks(data: bytes, chunk_size: int, *, key: bytes, amz_date: str, scope: str,
                         seed: str, trailers: list[tuple[str, str]] | None = None) -> bytes:
    """aws-chunked with chunk signatures, following the AWS SigV4 streaming docs."""
    empty = hashlib.sha256(b"").hexdigest()
    prev = seed
    out = bytearray()
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for c in chunks:
        sts = (f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n"
               f"{hashlib.sha256(c).hexdigest()}")
        prev = _hmac_hex(key, sts)
        out += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c
        if c:
            out += b"\r\n"
    if trailers is None:
        return bytes(out + b"\r\n")
    canonical = "".join(f"{k}:{v}\n" for k, v in trailers)
    sts = (f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev}\n"
           f"{hashlib.sha256(canonical.encode()).hexdigest()}")
    for k, v in trailers:
        out += f"{k}:{v}\r\n".encode()
    out += f"x-amz-trailer-signature:{_hmac_hex(key, sts)}\r\n\r\n".encode()
    return bytes(out)
