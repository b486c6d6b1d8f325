"""`--blobs s3://...?payload=`: how Kosha's requests to the cluster cover their bodies, checked on
the wire (a recording proxy in front of a real RGW) and by reading the objects back."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from .header_tap import HeaderTap
from .rgw_helpers import MiB, admin_user, kosha_s3, new_bucket


@pytest.fixture
def tap(rgw: Any) -> Iterator[HeaderTap]:
    proxy = HeaderTap(int(rgw.endpoint.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


def _round_trip(start_server: Any, rgw: Any, tap: HeaderTap, query: str) -> None:
    """A 40 MiB put_object (three backend parts) and a small one through a server whose blobs go
    through `tap` with `query` on the URL; both read back whole."""
    blob_bucket = rgw.new_bucket()
    server = start_server("--blobs", f"s3://{blob_bucket}/blobs?endpoint={tap.endpoint}{query}",
                          env=rgw.env)
    user = admin_user(server)
    s3 = kosha_s3(server, user.access_key, user.secret_key)
    bucket = new_bucket(s3)
    big, small = os.urandom(40 * MiB + 3), os.urandom(300 * 1024)
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    for key, data in (("big", big), ("small", small)):
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(got).digest() == hashlib.md5(data).digest()
    assert tap.parts == {1, 2, 3}   # the big blob went as a multipart upload through the tap


def test_a_loopback_endpoint_sends_unsigned_payloads_by_default(start_server: Any, rgw: Any,
                                                                tap: HeaderTap) -> None:
    _round_trip(start_server, rgw, tap, "")
    assert tap.content_sha256 == {"UNSIGNED-PAYLOAD"}
    assert tap.checksums == {}


def test_payload_signed_puts_each_body_digest_into_the_signature(start_server: Any, rgw: Any,
                                                                 tap: HeaderTap) -> None:
    _round_trip(start_server, rgw, tap, "&payload=signed")
    assert "UNSIGNED-PAYLOAD" not in tap.content_sha256
    digests = {v for v in tap.content_sha256 if re.fullmatch(r"[0-9a-f]{64}", v)}
    assert len(digests) >= 4   # three parts and the small PUT, each with its own digest


def test_payload_unsigned_with_a_checksum_sends_one_per_request(start_server: Any, rgw: Any,
                                                                tap: HeaderTap) -> None:
    _round_trip(start_server, rgw, tap, "&payload=unsigned&checksum=crc64nvme")
    assert tap.content_sha256 == {"UNSIGNED-PAYLOAD"}
    assert len(tap.checksums.get("x-amz-checksum-crc64nvme", set())) >= 4


def test_an_unknown_payload_mode_stops_the_server_at_start(start_server: Any, rgw: Any) -> None:
    with pytest.raises(Exception, match="payload must be one of"):
        start_server("--blobs", f"s3://{rgw.new_bucket()}/blobs?endpoint={rgw.endpoint}&payload=none",
                     env=rgw.env)
