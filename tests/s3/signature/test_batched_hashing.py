"""Bodies hashed a batch behind in a thread (kosha/overlap.py): every byte is still checked,
at every batch and piece boundary, before the last piece is released."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosha import overlap
from kosha.errors import Invalid
from kosha.s3.signature import wrap_payload

from .helpers import collect, pieces
from .test_sigv4_streaming import botocore_chunked, released_until_error, unsigned_headers


@pytest.fixture(autouse=True)
def small_batches() -> Iterator[None]:
    """Batches of 64 bytes: small bodies cross many batch boundaries, in the thread."""
    saved, overlap.BATCH = overlap.BATCH, 64
    yield
    overlap.BATCH = saved


def crc32_b64(b: bytes) -> str:
    return base64.b64encode(zlib.crc32(b).to_bytes(4, "big")).decode()


def signed_headers(data: bytes, sha256: str | None = None, crc32: str | None = None
                   ) -> list[tuple[str, str]]:
    return [("x-amz-content-sha256", sha256 or hashlib.sha256(data).hexdigest()),
            ("x-amz-checksum-crc32", crc32 or crc32_b64(data)),
            ("content-length", str(len(data)))]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000),
       sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5))
def test_sha256_and_crc32_pass_at_any_piece_and_batch_boundary(data, sizes):
    p = wrap_payload(pieces(data, sizes), signed_headers(data), None)
    assert asyncio.run(collect(p)) == data
    assert p.checksum.value == crc32_b64(data)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), flip=st.integers(0, 2999),
       sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5))
def test_one_changed_byte_anywhere_is_refused_before_the_last_piece(data, flip, sizes):
    flip %= len(data)
    sent = data[:flip] + bytes([data[flip] ^ 1]) + data[flip + 1:]
    got, e = asyncio.run(released_until_error(
        wrap_payload(pieces(sent, sizes), signed_headers(data), None)))
    assert isinstance(e, Invalid) and e.s3_code == "XAmzContentSHA256Mismatch"
    assert len(got) < len(sent)


def test_a_wrong_crc32_over_many_batches_is_bad_digest():
    data = os.urandom(5000)
    got, e = asyncio.run(released_until_error(
        wrap_payload(pieces(data, 333), signed_headers(data, crc32=crc32_b64(b"x")), None)))
    assert isinstance(e, Invalid) and e.s3_code == "BadDigest" and len(got) < len(data)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4000), chunk=st.integers(1, 1500),
       sizes=st.lists(st.integers(1, 500), min_size=1, max_size=6))
def test_aws_chunked_trailing_crc32_checks_out_at_any_boundary(data, chunk, sizes):
    body = botocore_chunked(data, "crc32", chunk)
    p = wrap_payload(pieces(body, sizes), unsigned_headers("crc32", len(data)), None)
    assert asyncio.run(collect(p)) == data
    assert p.checksum.value == crc32_b64(data)


def test_aws_chunked_wrong_trailing_crc32_over_many_batches_is_bad_digest():
    data = os.urandom(5000)
    body = botocore_chunked(data, "crc32", 700).replace(
        crc32_b64(data).encode(), crc32_b64(b"x").encode())
    got, e = asyncio.run(released_until_error(
        wrap_payload(pieces(body, 256), unsigned_headers("crc32", len(data)), None)))
    assert isinstance(e, Invalid) and e.s3_code == "BadDigest" and len(got) < len(data)


def test_aws_chunked_piece_that_is_all_data_is_passed_on_uncopied():
    data = os.urandom(3000)
    body = botocore_chunked(data, None, 3000)
    head = body.index(b"\r\n") + 2
    inner = body[head:head + 3000]

    async def three_reads():
        yield body[:head]
        yield inner
        yield body[head + 3000:]

    async def first_piece():
        async for piece in wrap_payload(three_reads(), unsigned_headers(None, 3000), None):
            return piece

    assert asyncio.run(first_piece()) is inner
