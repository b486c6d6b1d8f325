"""aws-chunked body decoding (``x-amz-content-sha256: STREAMING-*``), verifying as it streams.

Wire format (signed variants carry ``;chunk-signature=<hex>`` on every size line)::

    <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n ... 0[;chunk-signature=<sig>]\\r\\n
    [trailer-name:value\\r\\n ...] [x-amz-trailer-signature:<sig>\\r\\n] \\r\\n

The decoder is a small state machine over an async iterator of arbitrarily split byte pieces.
Unsigned chunk data is released as it arrives; a signed chunk is held until its signature
checks out, so tampered bytes never reach the caller. The final piece is held back until every
end-of-stream check (length, trailer signature, trailing checksum) has passed: a caller that
commits only after clean exhaustion never commits bad data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterable, AsyncIterator

from kosha.errors import Invalid
from kosha.overlap import BatchedHashing
from kosha.s3.signature.checksum import ChecksumSpec, new_checksum, validate_b64
from kosha.s3.signature.v4 import EMPTY_SHA256, SignedRequest, signature_mismatch

__all__ = [
    "STREAMING_SIGNED", "STREAMING_SIGNED_TRAILER", "STREAMING_UNSIGNED_TRAILER",
    "STREAMING_MODES", "ChunkedDecoder", "checksum_mismatch",
]

STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER,
                             STREAMING_UNSIGNED_TRAILER})

DEFAULT_MAX_SIGNED_CHUNK = 16 * 1024 * 1024  # a signed chunk is buffered whole before release
_MAX_LINE = 4096
_MAX_TRAILER_BYTES = 16 * 1024
_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_HEX64 = re.compile(rb"[0-9a-fA-F]{64}")
_SIG_PREFIX = b"chunk-signature="
_TRAILER_SIG = "x-amz-trailer-signature"

_HEADER, _DATA, _DATA_CR, _DATA_LF, _TRAILER, _DONE = range(6)


def _malformed(message: str = "The request body is not valid aws-chunked encoding.") -> Invalid:
    return Invalid(message, s3_code="InvalidRequest")


def _incomplete(message: str) -> Invalid:
    return Invalid(message, s3_code="IncompleteBody")


def _bad_trailer(message: str = "The request contained trailing data that was not well-formed "
                 "or did not conform to our published schema.") -> Invalid:
    return Invalid(message, s3_code="MalformedTrailerError")


def checksum_mismatch(algorithm: str) -> Invalid:
    """S3's BadDigest for an ``x-amz-checksum-*`` value that does not match the data."""
    return Invalid(f"The {algorithm.upper()} you specified did not match the calculated checksum.",
                   s3_code="BadDigest")


def _released(ready: list[memoryview], piece: bytes) -> bytes | memoryview:
    """One output per input piece: the piece itself when it was all data, a view of it when
    one run of it was, a joined copy only when a chunk boundary split it."""
    if len(ready) > 1:
        return b"".join(ready)
    view = ready[0]
    return piece if view.obj is piece and len(view) == len(piece) else view


class ChunkedDecoder:
    """Async-iterate the decoded payload of an aws-chunked request body (single use).

    ``mode`` is the request's ``x-amz-content-sha256`` STREAMING-* value; signed modes need the
    verified ``SignedRequest`` (seed signature and signing key). ``decoded_length`` is
    ``x-amz-decoded-content-length`` if sent; ``checksum`` is the trailing checksum the client
    declared in ``x-amz-trailer``. After exhaustion, ``trailers`` holds the trailer headers
    (without the trailer signature) and ``checksum_value`` the verified trailing checksum.
    """

    def __init__(self, body: AsyncIterable[bytes], mode: str, *,
                 signed: SignedRequest | None = None, decoded_length: int | None = None,
                 checksum: ChecksumSpec | None = None,
                 max_signed_chunk: int = DEFAULT_MAX_SIGNED_CHUNK) -> None:
        if mode not in STREAMING_MODES:
            raise Invalid(f"Unsupported aws-chunked mode {mode}", s3_code="InvalidRequest")
        self._signed_chunks = mode != STREAMING_UNSIGNED_TRAILER
        self._trailer_mode = mode != STREAMING_SIGNED
        if self._signed_chunks and signed is None:
            raise Invalid(f"{mode} requires a signed request", s3_code="InvalidRequest")
        self._body = body
        self._signed = signed
        self._prev_sig = signed.signature if signed is not None else ""
        self._decoded_length = decoded_length
        self._checksum_spec = checksum
        self._hasher = new_checksum(checksum.algorithm) if checksum is not None else None
        self._hashing = BatchedHashing([self._hasher]) if self._hasher is not None else None
        self._max_signed_chunk = max_signed_chunk
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        self._blank_seen = False
        self.trailers: dict[str, str] = {}
        self._spec_value: str | None = None
        self.checksum_value: str | None = None
        self.decoded_bytes = 0

    def __aiter__(self) -> AsyncIterator[bytes | memoryview]:
        return self._held_back()

    async def _held_back(self) -> AsyncIterator[bytes | memoryview]:
        # Lag one piece: the last one is only released once _decode finished its final checks.
        pending = None
        async for data in self._decode():
            if pending is not None:
                yield pending
            pending = data
        if pending is not None:
            yield pending

    # -------------------------------------------------------------------------- the machine

    async def _decode(self) -> AsyncIterator[bytes | memoryview]:
        try:
            async for data in self._decode_pieces():
                yield data
            if self._hashing is not None:
                await self._hashing.finish()
        except BaseException:
            if self._hashing is not None:
                await self._hashing.abandon()
            raise
        self._check_trailing_checksum()

    async def _decode_pieces(self) -> AsyncIterator[bytes | memoryview]:
        signed = self._signed_chunks
        state = _HEADER
        line = bytearray()
        trailer_bytes = 0
        remaining = 0
        chunk_sig = b""
        chunk_hash = None
        parts: list[memoryview] = []  # the current signed chunk, awaiting its signature check
        ready: list[memoryview] = []  # data cleared for release after this input piece
        async for piece in self._body:
            if not piece:
                continue
            if not isinstance(piece, bytes):
                piece = bytes(piece)  # a reused buffer must not change under our memoryviews
            mv = memoryview(piece)
            n = len(piece)
            pos = 0
            while pos < n:
                if state == _DATA:
                    take = remaining if remaining < n - pos else n - pos
                    view = mv[pos:pos + take]
                    pos += take
                    remaining -= take
                    if signed:
                        chunk_hash.update(view)
                        parts.append(view)
                        if remaining == 0:
                            self._verify_chunk(chunk_sig, chunk_hash.hexdigest())
                            ready.extend(parts)
                            parts = []
                    else:
                        ready.append(view)
                    if remaining == 0:
                        state = _DATA_CR
                elif state == _DATA_CR or state == _DATA_LF:
                    if piece[pos] != (13 if state == _DATA_CR else 10):
                        raise _malformed("aws-chunked data is not followed by CRLF.")
                    pos += 1
                    state = _DATA_LF if state == _DATA_CR else _HEADER
                elif state == _HEADER or state == _TRAILER:
                    i = piece.find(b"\n", pos)
                    end = n if i < 0 else i + 1
                    line += mv[pos:end]
                    if state == _TRAILER:
                        trailer_bytes += end - pos
                    pos = end
                    if len(line) > _MAX_LINE or trailer_bytes > _MAX_TRAILER_BYTES:
                        raise _malformed("aws-chunked header or trailer line too long.")
                    if i < 0:
                        break
                    if state == _HEADER:
                        size, chunk_sig = self._parse_size_line(line)
                        if size == 0:
                            if signed:
                                self._verify_chunk(chunk_sig, EMPTY_SHA256)
                            state = _TRAILER
                        else:
                            if signed and size > self._max_signed_chunk:
                                raise _malformed(f"aws-chunked chunk size {size} exceeds the "
                                                 f"limit of {self._max_signed_chunk} bytes.")
                            remaining = size
                            chunk_hash = hashlib.sha256() if signed else None
                            state = _DATA
                    elif self._trailer_line(line):
                        state = _DONE
                    line.clear()
                else:  # _DONE: tolerate trailing whitespace only
                    if piece[pos:].strip():
                        raise _malformed("Unexpected data after the end of the aws-chunked body.")
                    pos = n
            if ready:
                data = _released(ready, piece)
                ready.clear()
                self._account(data)
                if self._hashing is not None:
                    await self._hashing.add(data)
                yield data
        if state == _TRAILER:
            # Lenient end: the final chunk arrived but the closing blank line (or the end of the
            # last trailer line) did not. Signatures and checksums are still enforced.
            if not (line and self._trailer_line(line)):
                self._finish_trailers()
            state = _DONE
        if state != _DONE:
            raise _incomplete("The request body terminated unexpectedly")
        if self._decoded_length is not None and self.decoded_bytes != self._decoded_length:
            raise _incomplete("You did not provide the number of bytes specified by the "
                              "x-amz-decoded-content-length HTTP header")

    # ------------------------------------------------------------------------------ helpers

    def _account(self, data: bytes | memoryview) -> None:
        """Count released data; refuse bytes beyond the declared length."""
        self.decoded_bytes += len(data)
        if self._decoded_length is not None and self.decoded_bytes > self._decoded_length:
            raise _incomplete("The aws-chunked body is longer than x-amz-decoded-content-length")

    def _parse_size_line(self, line: bytearray) -> tuple[int, bytes]:
        if not line.endswith(b"\r\n"):
            raise _malformed("aws-chunked size line does not end with CRLF.")
        size_part, _, ext = bytes(line[:-2]).partition(b";")
        if not _HEX_SIZE.fullmatch(size_part):
            raise _malformed("aws-chunked chunk size is not hexadecimal.")
        if not self._signed_chunks:
            return int(size_part, 16), b""
        if not ext.startswith(_SIG_PREFIX) or not _HEX64.fullmatch(ext, len(_SIG_PREFIX)):
            raise _malformed("aws-chunked chunk is missing a valid chunk-signature.")
        return int(size_part, 16), ext[len(_SIG_PREFIX):].lower()

    def _verify_chunk(self, sig: bytes, data_sha256_hex: str) -> None:
        s = self._signed
        sts = (f"AWS4-HMAC-SHA256-PAYLOAD\n{s.amz_date}\n{s.scope}\n{self._prev_sig}\n"
               f"{EMPTY_SHA256}\n{data_sha256_hex}")
        expected = hmac.new(s.signing_key, sts.encode("ascii"), "sha256").hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), sig):
            raise signature_mismatch(StringToSign=sts, SignatureProvided=sig.decode("ascii"))
        self._prev_sig = expected

    def _trailer_line(self, line: bytearray | bytes) -> bool:
        """Consume one trailer line; True at the blank line that ends the body."""
        text = bytes(line).rstrip(b"\r\n")
        if not text:
            if self._trailer_mode and not self._trailer_lines and not self._blank_seen:
                # Some encoders (and the AWS docs example) put a blank line between the final
                # chunk and the trailers; EOF right after it is handled by the lenient end.
                self._blank_seen = True
                return False
            self._finish_trailers()
            return True
        name, sep, value = text.partition(b":")
        if not sep or not name.strip():
            raise _bad_trailer()
        key = name.strip().lower().decode("latin-1")
        val = value.strip().decode("latin-1")
        if key == _TRAILER_SIG:
            self._trailer_sig = val
        else:
            self._trailer_lines.append((key, val))
        return False

    def _finish_trailers(self) -> None:
        lines = self._trailer_lines
        if self._signed_chunks and self._trailer_mode:
            self._verify_trailer_signature(lines)
        elif lines and not self._trailer_mode:
            raise _bad_trailer("Trailing headers are not allowed for " + STREAMING_SIGNED)
        self.trailers = dict(lines)
        spec = self._checksum_spec
        for name, value in lines:
            if name.startswith("x-amz-checksum-") and (spec is None or name != spec.header):
                raise _bad_trailer(f"Trailer {name} was not declared in x-amz-trailer")
        if spec is not None:
            value = self.trailers.get(spec.header)
            if value is None:
                raise _bad_trailer(f"The trailer {spec.header} declared in x-amz-trailer is "
                                   "missing.")
            if not validate_b64(spec.algorithm, value):
                raise Invalid(f"Value for {spec.header} trailing header is invalid.",
                              s3_code="InvalidRequest")
            self._spec_value = value

    def _verify_trailer_signature(self, lines: list[tuple[str, str]]) -> None:
        if self._trailer_sig is None:
            raise signature_mismatch(Reason="missing x-amz-trailer-signature")
        s = self._signed
        orders = [lines] if sorted(lines) == lines else [lines, sorted(lines)]
        for order in orders:
            canonical = "".join(f"{k}:{v}\n" for k, v in order).encode("utf-8", "surrogateescape")
            sts = (f"AWS4-HMAC-SHA256-TRAILER\n{s.amz_date}\n{s.scope}\n{self._prev_sig}\n"
                   f"{hashlib.sha256(canonical).hexdigest()}")
            expected = hmac.new(s.signing_key, sts.encode("ascii"), "sha256").hexdigest()
            if hmac.compare_digest(expected, self._trailer_sig.lower()):
                return
        raise signature_mismatch(StringToSign=sts, SignatureProvided=self._trailer_sig)

    def _check_trailing_checksum(self) -> None:
        spec = self._checksum_spec
        if spec is None:
            return
        if not hmac.compare_digest(self._hasher.digest(), base64.b64decode(self._spec_value)):
            raise checksum_mismatch(spec.algorithm)
        self.checksum_value = self._spec_value
