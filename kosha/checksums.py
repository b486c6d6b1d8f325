"""The checksums S3 clients ask for (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256): running hashes,
the multipart COMPOSITE value, and the FULL_OBJECT value combined from the parts' CRCs.

CRC32 comes from zlib. CRC32C and CRC64NVME use ``awscrt.checksums`` (the C library botocore
itself uses) when installed; otherwise a table-driven pure-Python fallback keeps results correct,
only slower. SHA-1/SHA-256 come from hashlib.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from kosha.errors import Invalid

try:  # pragma: no cover - exercised whichever way the environment is built
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover
    _crt = None

__all__ = [
    "ALGORITHMS", "Checksum", "new_checksum", "composite_checksum", "full_object_checksum",
    "digest_size", "validate_b64", "HAS_FAST_CRC", "CRC_ALGORITHMS", "checksum_type",
]

#: Algorithm names as they appear in ``x-amz-checksum-<name>`` (lowercase).
ALGORITHMS: tuple[str, ...] = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
#: The algorithms whose multipart value may be FULL_OBJECT (a CRC of the whole object).
CRC_ALGORITHMS: tuple[str, ...] = ("crc32", "crc32c", "crc64nvme")
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


def checksum_type(checksums: Mapping[str, str] | None) -> str | None:
    """COMPOSITE for a multipart value (it ends in `-N`), FULL_OBJECT otherwise, None without."""
    if not checksums:
        return None
    return "COMPOSITE" if any("-" in value for value in checksums.values()) else "FULL_OBJECT"


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


_POLY = {"crc32": (0xEDB88320, 32), "crc32c": (0x82F63B78, 32), "crc64nvme": (0x9A6C9329AC4BC9B5, 64)}


def _multmodp(a: int, b: int, poly: int, width: int) -> int:
    """a * b modulo the (reflected) CRC polynomial."""
    m = 1 << (width - 1)
    p = 0
    while True:
        if a & m:
            p ^= b
            if a & (m - 1) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ poly if b & 1 else b >> 1


def _py_combine(algorithm: str, crc1: int, crc2: int, length2: int) -> int:
    """CRC(A || B) from CRC(A), CRC(B) and len(B), as zlib's crc32_combine: multiply CRC(A) by
    x^(8·len(B)) modulo the polynomial, then add CRC(B). No data is read."""
    poly, width = _POLY[algorithm]
    power = 1 << (width - 2)  # x^1
    x_to_8n = 1 << (width - 1)  # x^0
    n = length2 * 8
    while n:
        if n & 1:
            x_to_8n = _multmodp(power, x_to_8n, poly, width)
        n >>= 1
        power = _multmodp(power, power, poly, width)
    return _multmodp(x_to_8n, crc1, poly, width) ^ crc2


def _combine(algorithm: str) -> Callable[[int, int, int], int]:
    native = getattr(_crt, "combine_" + algorithm, None) if _crt is not None else None
    return native or (lambda crc1, crc2, length2: _py_combine(algorithm, crc1, crc2, length2))


def full_object_checksum(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """Multipart FULL_OBJECT checksum: the CRC of the whole object, combined from the parts'
    (base64 CRC, size) in part order, so completion reads no byte of the parts."""
    algorithm = algorithm.lower()
    if algorithm not in CRC_ALGORITHMS:
        raise ValueError(f"{algorithm} has no full-object multipart checksum")
    combine = _combine(algorithm)
    crc: int | None = None
    for b64, size in parts:
        value = int.from_bytes(base64.b64decode(b64), "big")
        crc = value if crc is None else combine(crc, value, size)
    return base64.b64encode((crc or 0).to_bytes(_DIGEST_SIZE[algorithm], "big")).decode("ascii")
