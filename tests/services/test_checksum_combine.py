"""The FULL_OBJECT multipart checksum equals the CRC of the concatenated parts, whatever the
parts (kosha/checksums.py), with awscrt's combine and with the pure-Python one alike."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kosha.checksums as checksums


def crc(algorithm: str, data: bytes) -> str:
    h = checksums.new_checksum(algorithm)
    h.update(data)
    return h.b64digest()


@pytest.mark.parametrize("native", [True, False], ids=["awscrt", "pure-python"])
@pytest.mark.parametrize("algorithm", checksums.CRC_ALGORITHMS)
@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.binary(max_size=3000), min_size=1, max_size=6))
def test_full_object_checksum_is_the_crc_of_the_whole(parts: list[bytes], algorithm: str,
                                                      native: bool) -> None:
    crt = checksums._crt
    checksums._crt = crt if native else None
    try:
        combined = checksums.full_object_checksum(
            algorithm, [(crc(algorithm, p), len(p)) for p in parts])
    finally:
        checksums._crt = crt
    assert combined == crc(algorithm, b"".join(parts))


def test_sha_algorithms_have_no_full_object_value() -> None:
    with pytest.raises(ValueError):
        checksums.full_object_checksum("sha256", [("AAAA", 1)])
