"""Checksums: known vectors, agreement with botocore, pure-Python fallbacks, header parsing."""

from __future__ import annotations

import base64
import os

import pytest
from botocore.httpchecksum import _CHECKSUM_CLS
from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.errors import Invalid
from kosha import checksums as algorithms
from kosha.s3.signature import checksum as ck
from kosha.s3.signature.checksum import (
    ALGORITHMS, ChecksumSpec, checksum_from_headers, composite_checksum, new_checksum,
)

CHECK = b"123456789"


@pytest.mark.parametrize("alg,value", [
    ("crc32", 0xCBF43926), ("crc32c", 0xE3069283), ("crc64nvme", 0xAE8B14860A799888),
])
def test_crc_check_values(alg, value):
    h = new_checksum(alg)
    h.update(CHECK)
    assert int.from_bytes(h.digest(), "big") == value


def test_aws_doc_crc32c_vector():
    h = new_checksum("CRC32C")
    h.update(b"a" * 66560)
    assert h.b64digest() == "sOO8/Q=="


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000), cut=st.integers(0, 2000), alg=st.sampled_from(ALGORITHMS))
def test_agrees_with_botocore_incrementally(data, cut, alg):
    ours = new_checksum(alg)
    ours.update(data[:cut])
    ours.update(memoryview(data)[cut:])
    theirs = _CHECKSUM_CLS[alg]()
    theirs.update(data)
    assert ours.b64digest() == theirs.b64digest()


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=500), cut=st.integers(0, 500))
def test_pure_python_fallbacks_match(data, cut):
    for py, alg in ((algorithms._py_crc32c, "crc32c"), (algorithms._py_crc64nvme, "crc64nvme")):
        crc = py(data[cut:], py(data[:cut], 0))
        h = new_checksum(alg)
        h.update(data)
        assert crc.to_bytes(ck.digest_size(alg), "big") == h.digest()
    assert algorithms._py_crc32c(CHECK, 0) == 0xE3069283
    assert algorithms._py_crc64nvme(CHECK, 0) == 0xAE8B14860A799888


def test_empty_digests():
    assert new_checksum("crc32").b64digest() == "AAAAAA=="
    assert new_checksum("sha256").b64digest() == base64.b64encode(
        bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")).decode()


def test_unknown_algorithm():
    with pytest.raises(Invalid):
        new_checksum("md4")


def test_composite_checksum():
    parts = [os.urandom(1000), os.urandom(10), b""]
    digests = []
    for p in parts:
        h = new_checksum("crc32c")
        h.update(p)
        digests.append(h.b64digest())
    outer = new_checksum("crc32c")
    for d in digests:
        outer.update(base64.b64decode(d))
    assert composite_checksum("crc32c", digests) == outer.b64digest() + "-3"
    # SHA256 of the concatenated raw part digests
    import hashlib
    raw = [hashlib.sha256(p).digest() for p in parts]
    assert composite_checksum("sha256", [base64.b64encode(r).decode() for r in raw]) == \
        base64.b64encode(hashlib.sha256(b"".join(raw)).digest()).decode() + "-3"


CRC = "DUoRhQ=="


@pytest.mark.parametrize("headers,expected", [
    ([], None),
    ([("x-amz-checksum-crc32", CRC)], ChecksumSpec("crc32", CRC, "header")),
    ([("x-amz-checksum-crc32", CRC), ("x-amz-sdk-checksum-algorithm", "CRC32")],
     ChecksumSpec("crc32", CRC, "header")),
    ([("x-amz-trailer", "x-amz-checksum-crc64nvme"),
      ("x-amz-sdk-checksum-algorithm", "CRC64NVME")], ChecksumSpec("crc64nvme", None, "trailer")),
    ([("x-amz-checksum-type", "COMPOSITE"), ("x-amz-checksum-algorithm", "SHA256")], None),
    ([(b"X-Amz-Checksum-CRC32", CRC.encode())], ChecksumSpec("crc32", CRC, "header")),
])
def test_checksum_from_headers(headers, expected):
    assert checksum_from_headers(headers) == expected


@pytest.mark.parametrize("headers", [
    [("x-amz-checksum-crc32", CRC), ("x-amz-checksum-sha1", "2jmj7l5rSw0yVb/vlWAYkK/YBwk=")],
    [("x-amz-checksum-crc32", "not base64")],
    [("x-amz-checksum-crc32", "AAAAAAAA")],  # wrong length
    [("x-amz-sdk-checksum-algorithm", "CRC32")],  # algorithm without a value
    [("x-amz-sdk-checksum-algorithm", "MD5"), ("x-amz-checksum-crc32", CRC)],
    [("x-amz-sdk-checksum-algorithm", "SHA1"), ("x-amz-checksum-crc32", CRC)],
    [("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-checksum-crc32", CRC)],
    [("x-amz-trailer", "x-amz-checksum-md5")],
])
def test_checksum_from_headers_refuses(headers):
    with pytest.raises(Invalid) as e:
        checksum_from_headers(headers)
    assert e.value.s3_code == "InvalidRequest"


def test_spec_header_name():
    assert ChecksumSpec("sha256", None, "trailer").header == "x-amz-checksum-sha256"


def test_module_works_without_awscrt():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; sys.modules['awscrt'] = None\n"
        "from kosha.s3.signature.checksum import HAS_FAST_CRC, new_checksum\n"
        "assert not HAS_FAST_CRC\n"
        "for alg, v in (('crc32c', 0xE3069283), ('crc64nvme', 0xAE8B14860A799888)):\n"
        "    h = new_checksum(alg); h.update(b'1234'); h.update(memoryview(b'56789'))\n"
        "    assert int.from_bytes(h.digest(), 'big') == v, alg\n"
    )
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
