"""Request-body integrity: ``x-amz-content-sha256``, aws-chunked, Content-MD5, x-amz-checksum-*.

``wrap_payload`` validates the headers up front (so a bad request fails before any body is
read) and returns a ``Payload``: an async iterator of the decoded body that verifies while it
streams and raises before releasing its final piece if anything does not match. Callers commit
an upload only after the iterator is exhausted without an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterable, AsyncIterator

from kosha.errors import Forbidden, Invalid
from kosha.overlap import BatchedHashing, Check
from kosha.s3.signature.checksum import ChecksumSpec, checksum_from_headers, new_checksum
from kosha.s3.signature.headers import HeaderInput, first, header_map
from kosha.s3.signature.streaming import (
    STREAMING_MODES, STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, ChunkedDecoder,
    checksum_mismatch,
)
from kosha.s3.signature.v4 import UNSIGNED_PAYLOAD, SignedRequest

__all__ = ["Payload", "wrap_payload", "strip_aws_chunked", "verify_sha256", "verify_md5"]

_SHA256_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
_BAD_CONTENT_SHA256 = ("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                       "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                       "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def _is_sha256_hex(value: str) -> bool:
    return len(value) == 64 and _HEXDIGITS.issuperset(value)


def strip_aws_chunked(content_encoding: str | None) -> str | None:
    """The Content-Encoding to store: ``aws-chunked`` is transport framing, not object data."""
    if not content_encoding:
        return content_encoding
    kept = [e.strip() for e in content_encoding.split(",")
            if e.strip() and e.strip().lower() != "aws-chunked"]
    return ",".join(kept) or None


class _Verified:
    """Hash every piece with every check; the last piece is released only if all match.

    Pieces are released at once and hashed a batch behind, in a thread (kosha/overlap.py):
    the loop receives while the digests run. Where every piece is hashed before the last one
    is released, a consumer that commits only after clean exhaustion never commits bad data.
    A class, not an async generator: the loop registers every async generator it starts (a
    `WeakSet` entry and a finalizer), a cost each signed PUT paid three times.
    """

    __slots__ = ("_body", "_checks", "_hashing", "_pending", "_done")

    def __init__(self, body: AsyncIterable[bytes], checks: list[Check]) -> None:
        self._body = aiter(body)
        self._checks = checks
        self._hashing = BatchedHashing([c.hasher for c in checks])
        self._pending: bytes | None = None
        self._done = False

    def __aiter__(self) -> _Verified:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        hashing = self._hashing
        try:
            while True:
                try:
                    piece = await self._body.__anext__()
                except StopAsyncIteration:
                    break
                if not piece:
                    continue
                await hashing.add(piece)
                held, self._pending = self._pending, piece
                if held is not None:
                    return held
            await hashing.finish()
        except BaseException:
            self._done = True
            await hashing.abandon()
            raise
        self._done = True
        for c in self._checks:
            c.verify()
        held, self._pending = self._pending, None
        if held is None:
            raise StopAsyncIteration
        return held


def _verified(body: AsyncIterable[bytes], checks: list[Check]) -> AsyncIterator[bytes]:
    return _Verified(body, checks)


def _sha256_mismatch() -> Invalid:
    return Invalid(_SHA256_MISMATCH, s3_code="XAmzContentSHA256Mismatch")


def _md5_mismatch() -> Invalid:
    return Invalid("The Content-MD5 you specified did not match what we received.",
                   s3_code="BadDigest")


def _sha256_check(expected_hex: str) -> Check:
    return Check(hashlib.sha256(), bytes.fromhex(expected_hex), _sha256_mismatch)


def _md5_check(content_md5: str) -> Check:
    try:
        expected = base64.b64decode(content_md5.strip(), validate=True)
    except (binascii.Error, ValueError):
        expected = b""
    if len(expected) != 16:
        raise Invalid("The Content-MD5 you specified is not valid.", s3_code="InvalidDigest")
    return Check(hashlib.md5(), expected, _md5_mismatch)


def verify_sha256(body: AsyncIterable[bytes], expected_hex: str) -> AsyncIterator[bytes]:
    """Stream ``body``; raise XAmzContentSHA256Mismatch before the last piece on mismatch."""
    return _verified(body, [_sha256_check(expected_hex)])


def verify_md5(body: AsyncIterable[bytes], content_md5: str) -> AsyncIterator[bytes]:
    """Stream ``body`` checking a Content-MD5 header (InvalidDigest now, BadDigest at the end)."""
    return _verified(body, [_md5_check(content_md5)])


def _int_header(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    v = value.strip()
    if not (v.isascii() and v.isdigit()):
        raise Invalid(f"Invalid {name} header: {value!r}", s3_code="InvalidArgument")
    return int(v)


class Payload:
    """The request body, decoded and verified while it streams (iterate once).

    After clean exhaustion: ``checksum`` is the verified ``x-amz-checksum-*`` (header or
    trailer, with its base64 value) or None, ``trailers`` the aws-chunked trailers, and
    ``length`` the number of decoded bytes. ``declared_length`` is known up front
    (x-amz-decoded-content-length for aws-chunked, else Content-Length).
    """

    def __init__(self, iterator: AsyncIterator[bytes], *, decoder: ChunkedDecoder | None,
                 checksum: ChecksumSpec | None, declared_length: int | None,
                 content_sha256: str) -> None:
        self._iterator = iterator
        self._decoder = decoder
        self._checksum = checksum
        self.declared_length = declared_length
        self.content_sha256 = content_sha256
        self.length = 0

    @property
    def aws_chunked(self) -> bool:
        """True if the wire body was aws-chunked (store Content-Encoding via strip_aws_chunked)."""
        return self._decoder is not None

    @property
    def trailers(self) -> dict[str, str]:
        return self._decoder.trailers if self._decoder is not None else {}

    @property
    def checksum(self) -> ChecksumSpec | None:
        spec = self._checksum
        if spec is not None and spec.location == "trailer":
            value = self._decoder.checksum_value if self._decoder is not None else None
            return ChecksumSpec(spec.algorithm, value, "trailer")
        return spec

    def __aiter__(self) -> Payload:
        return self

    async def __anext__(self) -> bytes:
        piece = await self._iterator.__anext__()
        self.length += len(piece)
        return piece


def wrap_payload(body: AsyncIterable[bytes], headers: HeaderInput,
                 signed: SignedRequest | None, *, body_checksum: bool = True) -> Payload:
    """Wrap a raw request body so it is decoded and verified as it streams.

    ``signed`` is the result of ``RequestAuth.verify`` (None for anonymous requests); its
    ``content_sha256`` decides between a plain body (hex sha256 or UNSIGNED-PAYLOAD) and the
    aws-chunked variants. Raises Invalid/Forbidden immediately for inconsistent headers.
    ``body_checksum=False`` where the ``x-amz-checksum-*`` headers describe something else than
    this body (CompleteMultipartUpload: the object's checksum).
    """
    hm = header_map(headers)
    if signed is not None:
        mode = signed.content_sha256
    else:
        mode = (first(hm, "x-amz-content-sha256") or UNSIGNED_PAYLOAD).strip()
    streaming = mode in STREAMING_MODES
    if not streaming and mode != UNSIGNED_PAYLOAD and not _is_sha256_hex(mode):
        if mode.startswith("STREAMING-AWS4-ECDSA"):
            raise Invalid("Signature Version 4A is not supported", s3_code="InvalidRequest")
        raise Invalid(_BAD_CONTENT_SHA256, s3_code="InvalidArgument")
    if streaming and mode != STREAMING_UNSIGNED_TRAILER and (signed is None or signed.presigned):
        raise Forbidden(f"{mode} requires an Authorization header signature",
                        s3_code="AccessDenied")
    spec = checksum_from_headers(hm) if body_checksum else None
    if spec is not None and spec.location == "trailer" and (not streaming
                                                             or mode == STREAMING_SIGNED):
        raise Invalid("x-amz-trailer requires x-amz-content-sha256 "
                      "STREAMING-UNSIGNED-PAYLOAD-TRAILER or "
                      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", s3_code="InvalidRequest")

    checks: list[Check] = []
    decoder = None
    source: AsyncIterable[bytes] = body
    if streaming:
        declared = _int_header(first(hm, "x-amz-decoded-content-length"),
                               "x-amz-decoded-content-length")
        decoder = ChunkedDecoder(body, mode, signed=signed, decoded_length=declared,
                                 checksum=spec if spec is not None and spec.location == "trailer"
                                 else None)
        source = decoder
    else:
        declared = _int_header(first(hm, "content-length"), "content-length")
        if mode != UNSIGNED_PAYLOAD:
            checks.append(_sha256_check(mode))
    md5 = first(hm, "content-md5")
    if md5 is not None:
        checks.append(_md5_check(md5))
    if spec is not None and spec.location == "header":
        checks.append(Check(new_checksum(spec.algorithm), base64.b64decode(spec.value),
                             checksum_mismatch(spec.algorithm)))
    iterator = _verified(source, checks) if checks else aiter(source)
    return Payload(iterator, decoder=decoder, checksum=spec, declared_length=declared,
                   content_sha256=mode)
