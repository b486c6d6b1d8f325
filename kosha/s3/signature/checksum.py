"""S3 additional checksums (``x-amz-checksum-*``): hashing, header parsing, composites.

CRC32 comes from zlib. CRC32C and CRC64NVME use ``awscrt.checksums`` (the C library botocore
itself uses) when installed; otherwise a table-driven pure-Python fallback keeps results correct,
only slower. SHA-1/SHA-256 come from hashlib.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from kosha.errors import Invalid
from kosha.s3.signature.headers import HeaderInput, first, header_map

try:  # pragma: no cover - exercised whichever way the environment is built
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover
    _crt = None

__all__ = [
    "ALGORITHMS", "Checksum", "ChecksumSpec", "new_checksum", "checksum_from_headers",
    "composite_checksum", "digest_size", "validate_b64", "HAS_FAST_CRC",
]

#: Algorithm names as they appear in ``x-amz-checksum-<name>`` (lowercase).
ALGORITHMS: tuple[str, ...] = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
_DIGEST_SIZE = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}
#: True when CRC32C/CRC64NVME run in C (awscrt); False means the slow pure-Python path.
HAS_FAST_CRC = _crt is not None


class Checksum(Protocol):
    """What every checksum object offers (hashlib-like)."""

    def update(self, data: bytes | bytearray | memoryview) -> None: ...
    def digest(self) -> bytes: ...
    def b64digest(self) -> str: ...


class _Crc:
    """Running CRC with a pluggable step function ``fn(data, crc) -> crc``."""

    __slots__ = ("_fn", "_crc", "_size")

    def __init__(self, fn, size: int) -> None:
        self._fn = fn
        self._crc = 0
        self._size = size

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._crc = self._fn(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._size, "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Hash:
    """hashlib wrapper adding ``b64digest``."""

    __slots__ = ("_h",)

    def __init__(self, name: str) -> None:
        self._h = hashlib.new(name)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()

    def b64digest(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


def _reflected_table(poly: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5)
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def _py_crc32c(data: bytes | bytearray | memoryview, crc: int) -> int:
    """Pure-Python CRC32C (Castagnoli); correct but ~100x slower than awscrt."""
    t = _CRC32C_TABLE
    c = crc ^ _MASK32
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ _MASK32


def _py_crc64nvme(data: bytes | bytearray | memoryview, crc: int) -> int:
    """Pure-Python CRC64/NVME; correct but slow."""
    t = _CRC64NVME_TABLE
    c = crc ^ _MASK64
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ _MASK64


if _crt is not None:
    _CRC32C = _crt.crc32c  # (data, previous_crc) -> crc, same shape as zlib.crc32
    _CRC64NVME = _crt.crc64nvme
else:  # pragma: no cover
    _CRC32C = _py_crc32c
    _CRC64NVME = _py_crc64nvme


def new_checksum(algorithm: str) -> Checksum:
    """A fresh running checksum for ``algorithm`` (case-insensitive, e.g. ``"CRC32"``)."""
    a = algorithm.lower()
    if a == "crc32":
        return _Crc(zlib.crc32, 4)
    if a == "crc32c":
        return _Crc(_CRC32C, 4)
    if a == "crc64nvme":
        return _Crc(_CRC64NVME, 8)
    if a in ("sha1", "sha256"):
        return _Hash(a)
    raise Invalid(f"Unsupported checksum algorithm: {algorithm}", s3_code="InvalidRequest")


def digest_size(algorithm: str) -> int:
    """Raw digest length in bytes (used to validate the base64 values clients send)."""
    return _DIGEST_SIZE[algorithm.lower()]


def validate_b64(algorithm: str, value: str) -> bool:
    """True if ``value`` is strict base64 of exactly one ``algorithm`` digest."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == _DIGEST_SIZE[algorithm]


@dataclass(frozen=True, slots=True)
class ChecksumSpec:
    """The checksum a request asks S3 to verify.

    ``value`` is the base64 digest from the header, or None when it arrives later as an
    aws-chunked trailer (``location == "trailer"``).
    """

    algorithm: str  # lowercase, one of ALGORITHMS
    value: str | None
    location: str  # "header" | "trailer"

    @property
    def header(self) -> str:
        """The header/trailer name carrying the value, e.g. ``x-amz-checksum-crc32``."""
        return "x-amz-checksum-" + self.algorithm


def checksum_from_headers(headers: HeaderInput) -> ChecksumSpec | None:
    """Which additional checksum the client sent, or None.

    Looks at ``x-amz-checksum-<alg>`` (value in a header), ``x-amz-trailer`` (value follows the
    aws-chunked body) and ``x-amz-sdk-checksum-algorithm`` (must agree with either). Raises
    ``Invalid(InvalidRequest)`` for the inconsistencies S3 rejects, so a bad request fails before
    the body is read.
    """
    hm = header_map(headers)
    found = [(a, hm["x-amz-checksum-" + a]) for a in ALGORITHMS if "x-amz-checksum-" + a in hm]
    trailer = first(hm, "x-amz-trailer")
    sdk_alg = first(hm, "x-amz-sdk-checksum-algorithm")
    if len(found) > 1:
        raise Invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                      "not allowed.", s3_code="InvalidRequest")
    spec: ChecksumSpec | None = None
    if found:
        algorithm, values = found[0]
        value = values[0].strip()
        if not validate_b64(algorithm, value):
            raise Invalid(f"Value for x-amz-checksum-{algorithm} header is invalid.",
                          s3_code="InvalidRequest")
        spec = ChecksumSpec(algorithm, value, "header")
    if trailer is not None:
        names = [t.strip().lower() for t in trailer.split(",") if t.strip()]
        algs = [n[len("x-amz-checksum-"):] for n in names if n.startswith("x-amz-checksum-")]
        if len(algs) > 1 or (algs and spec is not None):
            raise Invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types "
                          "are not allowed.", s3_code="InvalidRequest")
        if algs:
            if algs[0] not in _DIGEST_SIZE:
                raise Invalid("The value specified in the x-amz-trailer header is not supported",
                              s3_code="InvalidRequest")
            spec = ChecksumSpec(algs[0], None, "trailer")
    if sdk_alg is not None:
        a = sdk_alg.strip().lower()
        if a not in _DIGEST_SIZE:
            raise Invalid("Value for x-amz-sdk-checksum-algorithm header is invalid.",
                          s3_code="InvalidRequest")
        if spec is None:
            raise Invalid("x-amz-sdk-checksum-algorithm specified, but no corresponding "
                          "x-amz-checksum-* or x-amz-trailer headers were found.",
                          s3_code="InvalidRequest")
        if spec.algorithm != a:
            raise Invalid("Value for x-amz-sdk-checksum-algorithm header is invalid.",
                          s3_code="InvalidRequest")
    return spec


def composite_checksum(algorithm: str, part_checksums: Iterable[str]) -> str:
    """Multipart COMPOSITE checksum: ``b64(alg(raw_1 || ... || raw_n)) + "-n"``.

    ``part_checksums`` are the parts' base64 digests in part-number order.
    """
    h = new_checksum(algorithm)
    n = 0
    for b64 in part_checksums:
        h.update(base64.b64decode(b64))
        n += 1
    return f"{h.b64digest()}-{n}"
