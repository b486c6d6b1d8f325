"""Plain-body integrity: x-amz-content-sha256, Content-MD5, x-amz-checksum-* headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib

import pytest

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature import strip_aws_chunked, wrap_payload
from kosha.s3.signature.payload import verify_md5, verify_sha256

from .helpers import collect, pieces

DATA = b"The quick brown fox jumps over the lazy dog" * 100


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def md5_b64(b: bytes) -> str:
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def crc32_b64(b: bytes) -> str:
    return base64.b64encode(zlib.crc32(b).to_bytes(4, "big")).decode()


async def until_error(it):
    got = []
    try:
        async for p in it:
            got.append(p)
    except (Invalid, Forbidden) as e:
        return got, e
    return got, None


def run(c):
    return asyncio.run(c)


@pytest.mark.parametrize("size", [1, 10, 1000, 10**6])
def test_sha256_ok(size):
    p = wrap_payload(pieces(DATA, size), [("x-amz-content-sha256", sha(DATA))], None)
    assert run(collect(p)) == DATA and p.length == len(DATA)


@pytest.mark.parametrize("size", [1, 10, 1000, 10**6])
def test_sha256_mismatch_raised_before_last_piece(size):
    p = wrap_payload(pieces(DATA, size), [("x-amz-content-sha256", sha(DATA + b"!"))], None)
    got, e = run(until_error(p))
    assert e.s3_code == "XAmzContentSHA256Mismatch" and e.status == 400
    assert b"".join(got) == DATA[:len(b"".join(got))] and len(b"".join(got)) < len(DATA)


def test_empty_body_with_empty_hash():
    p = wrap_payload(pieces(b"", 1), [("x-amz-content-sha256", sha(b""))], None)
    assert run(collect(p)) == b""
    p = wrap_payload(pieces(b"x", 1), [("x-amz-content-sha256", sha(b""))], None)
    assert run(until_error(p))[1].s3_code == "XAmzContentSHA256Mismatch"


def test_unsigned_payload_passes_anything():
    p = wrap_payload(pieces(DATA, 7), [("x-amz-content-sha256", "UNSIGNED-PAYLOAD")], None)
    assert run(collect(p)) == DATA
    assert run(collect(wrap_payload(pieces(DATA, 7), [], None))) == DATA


def test_bad_content_sha256_value():
    with pytest.raises(Invalid) as e:
        wrap_payload(pieces(DATA, 7), [("x-amz-content-sha256", "nope")], None)
    assert e.value.s3_code == "InvalidArgument"
    with pytest.raises(Invalid) as e:
        wrap_payload(pieces(DATA, 7), [("x-amz-content-sha256",
                                        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD")], None)
    assert e.value.s3_code == "InvalidRequest"


def test_content_md5():
    p = wrap_payload(pieces(DATA, 100), [("content-md5", md5_b64(DATA))], None)
    assert run(collect(p)) == DATA
    p = wrap_payload(pieces(DATA, 100), [("content-md5", md5_b64(b"other"))], None)
    got, e = run(until_error(p))
    assert e.s3_code == "BadDigest" and len(b"".join(got)) < len(DATA)
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(Invalid) as ei:
            wrap_payload(pieces(DATA, 100), [("content-md5", bad)], None)
        assert ei.value.s3_code == "InvalidDigest"


def test_standalone_wrappers():
    assert run(collect(verify_sha256(pieces(DATA, 9), sha(DATA)))) == DATA
    assert run(collect(verify_md5(pieces(DATA, 9), md5_b64(DATA)))) == DATA
    got, e = run(until_error(verify_md5(pieces(DATA, 9), md5_b64(b""))))
    assert e.s3_code == "BadDigest"


def test_checksum_header():
    hs = [("x-amz-checksum-crc32", crc32_b64(DATA)), ("x-amz-sdk-checksum-algorithm", "CRC32")]
    p = wrap_payload(pieces(DATA, 100), hs, None)
    assert run(collect(p)) == DATA
    assert p.checksum.algorithm == "crc32" and p.checksum.value == crc32_b64(DATA)
    hs = [("x-amz-checksum-crc32", crc32_b64(b"x"))]
    got, e = run(until_error(wrap_payload(pieces(DATA, 100), hs, None)))
    assert e.s3_code == "BadDigest"
    assert e.message == "The CRC32 you specified did not match the calculated checksum."


def test_all_checks_together():
    hs = [("x-amz-content-sha256", sha(DATA)), ("content-md5", md5_b64(DATA)),
          ("x-amz-checksum-crc32", crc32_b64(DATA)), ("content-length", str(len(DATA)))]
    p = wrap_payload(pieces(DATA, 333), hs, None)
    assert p.declared_length == len(DATA) and not p.aws_chunked
    assert run(collect(p)) == DATA


def test_trailer_without_streaming_mode_is_refused():
    with pytest.raises(Invalid) as e:
        wrap_payload(pieces(DATA, 1), [("x-amz-trailer", "x-amz-checksum-crc32")], None)
    assert e.value.s3_code == "InvalidRequest"


def test_bad_decoded_length_header():
    with pytest.raises(Invalid):
        wrap_payload(pieces(DATA, 1), [("x-amz-content-sha256",
                                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                                       ("x-amz-decoded-content-length", "-1")], None)


@pytest.mark.parametrize("value,expected", [
    ("aws-chunked", None), ("gzip,aws-chunked", "gzip"), ("aws-chunked, gzip", "gzip"),
    ("gzip", "gzip"), (None, None), ("", ""),
])
def test_strip_aws_chunked(value, expected):
    assert strip_aws_chunked(value) == expected
