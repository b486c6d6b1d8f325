"""aws-chunked decoding: AWS documentation vectors, botocore's encoder, tampering, framing."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import time
import zlib
from datetime import datetime, timezone

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, _CHECKSUM_CLS
from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature import ChunkedDecoder, parse_request_auth, wrap_payload
from kosha.s3.signature.checksum import ChecksumSpec

from .helpers import collect, encode_signed_chunks, pieces

# ------------------------------------------------------------------ AWS documentation vectors
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_NOW = datetime(2013, 5, 24, 0, 1, tzinfo=timezone.utc)
DOC_DATA = b"a" * 66560
_CRED = "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"
DOC_HEADERS = [
    ("host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ("authorization", f"AWS4-HMAC-SHA256 {_CRED},SignedHeaders=content-encoding;content-length;"
                      "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                      "x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690b"
                      "aa4adea153f7db9fa80a0a9"),
    ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
    ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
    ("content-length", "66824"),
]
DOC_BODY = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536 + b"\r\n"
    b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
    + b"a" * 1024 + b"\r\n"
    b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
TRAILER_HEADERS = [
    ("host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
    ("authorization", f"AWS4-HMAC-SHA256 {_CRED},SignedHeaders=content-encoding;host;"
                      "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                      "x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f3"
                      "6619c00e2dfc72633413f02d3b74544bfeb8e"),
    ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
    ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
    ("x-amz-trailer", "x-amz-checksum-crc32c"),
]
TRAILER_BODY = (
    b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
    + b"a" * 65536 + b"\r\n"
    b"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
    + b"a" * 1024 + b"\r\n"
    b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
    b"\r\n")


def run(coro):
    return asyncio.run(coro)


def doc_signed(headers=DOC_HEADERS):
    return parse_request_auth("PUT", b"/examplebucket/chunkObject.txt", b"", headers).verify(
        DOC_SECRET, DOC_NOW)


def decode(body: bytes, sizes, headers=DOC_HEADERS):
    p = wrap_payload(pieces(body, sizes), headers, doc_signed(headers))
    return run(collect(p)), p


async def released_until_error(it) -> tuple[bytes, Exception | None]:
    got = bytearray()
    try:
        async for piece in it:
            got += piece
    except (Forbidden, Invalid) as e:
        return bytes(got), e
    return bytes(got), None


def test_aws_doc_signed_vector():
    out, p = decode(DOC_BODY, 1 << 20)
    assert out == DOC_DATA and p.aws_chunked and p.length == 66560


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 70000), min_size=1, max_size=8))
def test_aws_doc_signed_vector_any_split(sizes):
    assert decode(DOC_BODY, sizes)[0] == DOC_DATA


@pytest.mark.parametrize("body", [
    TRAILER_BODY,
    TRAILER_BODY[:-2],  # no closing blank line
    TRAILER_BODY[:-4],  # the AWS docs print it without the final CRLFs
    TRAILER_BODY.replace(b"f992\r\n", b"f992\r\n\r\n"),  # blank line before the trailers
])
@pytest.mark.parametrize("size", [1, 13, 65536, 1 << 20])
def test_aws_doc_trailer_vector(body, size):
    out, p = decode(body, size, TRAILER_HEADERS)
    assert out == DOC_DATA
    assert p.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    assert p.checksum == ChecksumSpec("crc32c", "sOO8/Q==", "trailer")


def test_trailer_signature_tampered():
    body = TRAILER_BODY.replace(b"sOO8/Q==", b"AAAAAA==")
    got, e = run(released_until_error(wrap_payload(pieces(body, 4096), TRAILER_HEADERS,
                                                   doc_signed(TRAILER_HEADERS))))
    assert isinstance(e, Forbidden) and e.s3_code == "SignatureDoesNotMatch"
    assert len(got) < len(DOC_DATA)  # the final piece was withheld


def test_tampered_chunk_is_never_released():
    body = bytearray(DOC_BODY)
    idx = DOC_BODY.index(b"400;") + 90 + 10  # inside the second chunk's data
    body[idx] = ord("b")
    for size in (1, 100, 4096, 65536, 1 << 20):
        got, e = run(released_until_error(wrap_payload(pieces(bytes(body), size), DOC_HEADERS,
                                                       doc_signed())))
        assert isinstance(e, Forbidden) and e.s3_code == "SignatureDoesNotMatch"
        assert b"b" not in got and len(got) <= 65536


def test_tampered_first_chunk_releases_nothing():
    body = DOC_BODY.replace(b"aaaa", b"aaab", 1)
    got, e = run(released_until_error(wrap_payload(pieces(body, 7), DOC_HEADERS, doc_signed())))
    assert got == b"" and e.s3_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("mutate", [
    lambda b: b.replace(b"ad80c730", b"ad80c731"),  # wrong chunk signature
    lambda b: b.replace(b"b6c6ea8a", b"b6c6ea8b"),  # wrong final signature
    lambda b: b.replace(b";chunk-signature=ad80", b";chunk-signaturX=ad80"),
])
def test_bad_signatures(mutate):
    got, e = run(released_until_error(wrap_payload(pieces(mutate(DOC_BODY), 1 << 20),
                                                   DOC_HEADERS, doc_signed())))
    assert isinstance(e, (Forbidden, Invalid)) and got == b""


def test_wrong_seed_breaks_the_chain():
    signed = doc_signed()
    object.__setattr__(signed, "signature", "4f232c44" + signed.signature[8:])
    got, e = run(released_until_error(ChunkedDecoder(pieces(DOC_BODY, 1 << 20),
                                                     "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                                     signed=signed)))
    assert isinstance(e, Forbidden) and got == b""


@pytest.mark.parametrize("cut", [10, 100, 65000, len(DOC_BODY) - 90, len(DOC_BODY) - 3])
def test_truncated_body_is_incomplete(cut):
    got, e = run(released_until_error(wrap_payload(pieces(DOC_BODY[:cut], 1 << 20), DOC_HEADERS,
                                                   doc_signed())))
    assert isinstance(e, Invalid) and e.s3_code == "IncompleteBody"
    assert len(got) < len(DOC_DATA)


def test_decoded_length_mismatch():
    # x-amz-decoded-content-length is signed, so drive the decoder with the doc's credentials.
    for declared in (66561, 66559, 10):
        d = ChunkedDecoder(pieces(DOC_BODY, 5000), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                           signed=doc_signed(), decoded_length=declared)
        got, e = run(released_until_error(d))
        assert isinstance(e, Invalid) and e.s3_code == "IncompleteBody", declared
        assert len(got) < len(DOC_DATA)


# --------------------------------------------------------------- our own signed encoder

def _signed_ctx():
    s = doc_signed()
    return dict(key=s.signing_key, amz_date=s.amz_date, scope=s.scope, seed=s.signature), s


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 1500),
       sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_signed_roundtrip_any_chunking(data, chunk, sizes):
    ctx, s = _signed_ctx()
    body = encode_signed_chunks(data, chunk, **ctx)
    d = ChunkedDecoder(pieces(body, sizes), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed=s,
                       decoded_length=len(data))
    assert run(collect(d)) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 1500),
       sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6),
       alg=st.sampled_from(["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]))
def test_signed_trailer_roundtrip_any_chunking(data, chunk, sizes, alg):
    ctx, s = _signed_ctx()
    value = _CHECKSUM_CLS[alg]().handle(data) if data else _CHECKSUM_CLS[alg]().b64digest()
    body = encode_signed_chunks(data, chunk, trailers=[(f"x-amz-checksum-{alg}", value)], **ctx)
    d = ChunkedDecoder(pieces(body, sizes), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                       signed=s, decoded_length=len(data),
                       checksum=ChecksumSpec(alg, None, "trailer"))
    assert run(collect(d)) == data
    assert d.checksum_value == value and d.trailers == {f"x-amz-checksum-{alg}": value}


def test_signed_trailer_checksum_mismatch_is_bad_digest():
    ctx, s = _signed_ctx()
    data = os.urandom(5000)
    wrong = base64.b64encode(zlib.crc32(data + b"x").to_bytes(4, "big")).decode()
    body = encode_signed_chunks(data, 1024, trailers=[("x-amz-checksum-crc32", wrong)], **ctx)
    d = ChunkedDecoder(pieces(body, 512), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                       signed=s, checksum=ChecksumSpec("crc32", None, "trailer"))
    got, e = run(released_until_error(d))
    assert e.s3_code == "BadDigest"
    assert e.message == "The CRC32 you specified did not match the calculated checksum."
    assert len(got) < len(data)


def test_signed_chunk_size_limit():
    ctx, s = _signed_ctx()
    body = encode_signed_chunks(b"x" * 2000, 2000, **ctx)
    d = ChunkedDecoder(pieces(body, 100), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed=s,
                       max_signed_chunk=1000)
    got, e = run(released_until_error(d))
    assert isinstance(e, Invalid) and got == b""


def test_trailers_refused_in_plain_signed_mode():
    ctx, s = _signed_ctx()
    body = encode_signed_chunks(b"abc", 10, trailers=[("x-amz-meta-a", "1")], **ctx)
    d = ChunkedDecoder(pieces(body, 100), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed=s)
    got, e = run(released_until_error(d))
    assert isinstance(e, Invalid) and got == b""


# ---------------------------------------------------------------- unsigned (botocore) encoder

UNSIGNED = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def botocore_chunked(data: bytes, alg: str | None, chunk_size: int) -> bytes:
    w = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=_CHECKSUM_CLS[alg] if alg else None,
                          checksum_name=f"x-amz-checksum-{alg}", chunk_size=chunk_size)
    return b"".join(w)  # (w.read() is quadratic on big bodies)


def unsigned_headers(alg: str | None, n: int) -> list[tuple[str, str]]:
    hs = [("content-encoding", "aws-chunked"), ("x-amz-content-sha256", UNSIGNED),
          ("x-amz-decoded-content-length", str(n))]
    if alg:
        hs += [("x-amz-trailer", f"x-amz-checksum-{alg}"),
               ("x-amz-sdk-checksum-algorithm", alg.upper())]
    return hs


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 3000),
       sizes=st.lists(st.integers(1, 700), min_size=1, max_size=6),
       alg=st.sampled_from([None, "crc32", "crc32c", "crc64nvme", "sha1", "sha256"]))
def test_botocore_unsigned_trailer_any_chunking(data, chunk, sizes, alg):
    body = botocore_chunked(data, alg, chunk)
    p = wrap_payload(pieces(body, sizes), unsigned_headers(alg, len(data)), None)
    assert run(collect(p)) == data
    if alg:
        expected = _CHECKSUM_CLS[alg]()
        expected.update(data)
        assert p.checksum.value == expected.b64digest()
        assert p.trailers == {f"x-amz-checksum-{alg}": expected.b64digest()}


def test_unsigned_trailer_checksum_mismatch():
    data = os.urandom(10000)
    body = botocore_chunked(data, "crc32", 4096)
    good = base64.b64encode(zlib.crc32(data).to_bytes(4, "big"))
    bad = base64.b64encode((zlib.crc32(data) ^ 1).to_bytes(4, "big"))
    body = body.replace(b"x-amz-checksum-crc32:" + good, b"x-amz-checksum-crc32:" + bad)
    got, e = run(released_until_error(wrap_payload(pieces(body, 1000),
                                                   unsigned_headers("crc32", len(data)), None)))
    assert isinstance(e, Invalid) and e.s3_code == "BadDigest"
    assert len(got) < len(data)


def test_declared_trailer_missing():
    body = botocore_chunked(b"hello", None, 10)
    got, e = run(released_until_error(wrap_payload(pieces(body, 3),
                                                   unsigned_headers("crc32", 5), None)))
    assert e.s3_code == "MalformedTrailerError" and len(got) < 5


def test_undeclared_checksum_trailer_refused():
    body = botocore_chunked(b"hello", "crc32", 10)
    got, e = run(released_until_error(wrap_payload(pieces(body, 3),
                                                   unsigned_headers(None, 5), None)))
    assert e.s3_code == "MalformedTrailerError"


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",             # size not hex
    b"5\r\nhelloXX0\r\n\r\n",                # data not followed by CRLF
    b"5\nhello\r\n0\r\n\r\n",                # bare LF size line
    b"5\r\nhello\r\n0\r\n\r\ngarbage",       # data after the end
    b"5\r\nhello\r\n0\r\nnot-a-trailer\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"1" * 5000 + b"\r\n",                    # absurd size line
])
def test_malformed_framing(body):
    got, e = run(released_until_error(wrap_payload(pieces(body, 3),
                                                   unsigned_headers(None, 5)[:2], None)))
    assert isinstance(e, Invalid), e
    assert len(got) < 5  # unsigned data may flow, but the last piece is withheld


def test_unsigned_extensions_ignored_and_trailing_whitespace_ok():
    body = b"5;foo=bar\r\nhello\r\n0\r\n\r\n\r\n"
    p = wrap_payload(pieces(body, 2), unsigned_headers(None, 5), None)
    assert run(collect(p)) == b"hello"


def test_signed_mode_requires_signature():
    with pytest.raises(Invalid):
        ChunkedDecoder(pieces(b"", 1), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    with pytest.raises(Forbidden):
        wrap_payload(pieces(b"", 1), [("x-amz-content-sha256",
                                      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")], None)


# ------------------------------------------------------------------------------ performance

def test_large_body_is_fast_and_not_fragmented():
    data = os.urandom(64 * 1024 * 1024)
    body = botocore_chunked(data, "crc32", 64 * 1024)
    # a server hands us ~64 KiB reads that do not line up with chunk boundaries
    p = wrap_payload(pieces(body, 65536 + 17), unsigned_headers("crc32", len(data)), None)

    async def consume():
        n = count = 0
        async for piece in p:
            n += len(piece)
            count += 1
        return n, count

    t = time.perf_counter()
    n, count = run(consume())
    elapsed = time.perf_counter() - t
    assert n == len(data)
    assert count <= len(body) // 65536 + 2  # about one output piece per input piece
    assert elapsed < 5, elapsed
    print(f"unsigned aws-chunked decode: {len(data) / elapsed / 1e6:.0f} MB/s")


def test_large_signed_body_is_fast():
    ctx, s = _signed_ctx()
    data = os.urandom(32 * 1024 * 1024)
    body = encode_signed_chunks(data, 1024 * 1024, **ctx)
    d = ChunkedDecoder(pieces(body, 65536), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", signed=s,
                       decoded_length=len(data))

    async def consume():
        sizes = []
        async for piece in d:
            sizes.append(len(piece))
        return sizes

    t = time.perf_counter()
    sizes = run(consume())
    elapsed = time.perf_counter() - t
    assert sum(sizes) == len(data)
    assert min(sizes[:-1] or [0]) >= 1024 * 1024 - 65536  # whole chunks, not fragments
    assert elapsed < 5
    print(f"signed aws-chunked decode: {len(data) / elapsed / 1e6:.0f} MB/s")
