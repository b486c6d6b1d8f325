"""Signed PUTs and parts of several MiB, hashed a MiB behind the receiving loop: checked whole,
refused whole, nothing left behind when refused."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from s3_helpers import REGION

BODY = os.urandom(5 * 1024 * 1024 + 12345)


def tmp_files(server) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.name for p in (server.data_dir / "blobs" / "tmp").iterdir())


def test_a_default_boto3_put_of_several_mib_is_stored_with_its_md5_etag(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="big", Body=BODY)
    assert r["ETag"] == '"%s"' % hashlib.md5(BODY).hexdigest()
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == BODY


def test_a_wrong_crc32_on_several_mib_is_bad_digest_and_nothing_stays(server, s3, bucket):
    before = tmp_files(server)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad-crc", Body=BODY, ChecksumCRC32="AAAAAA==")
    assert e.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad-crc")
    assert tmp_files(server) == before


def test_a_body_not_matching_its_signed_sha256_is_refused_and_nothing_stays(server, s3, bucket):
    before = tmp_files(server)
    url = f"{s3.meta.endpoint_url}/{bucket}/bad-sha"
    req = AWSRequest(method="PUT", url=url, data=BODY, headers={
        "x-amz-content-sha256": hashlib.sha256(BODY[:-1] + b"!").hexdigest()})
    SigV4Auth(s3._request_signer._credentials, "s3", REGION).add_auth(req)
    r = httpx.put(url, headers=dict(req.headers), content=BODY, timeout=60)
    assert r.status_code == 400 and "XAmzContentSHA256Mismatch" in r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad-sha")
    assert tmp_files(server) == before


def test_an_upload_part_of_several_mib_with_a_wrong_crc32_is_refused(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                       Body=BODY, ChecksumCRC32="AAAAAA==")
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="mp", UploadId=up["UploadId"])


def test_a_part_of_an_upload_with_the_same_checksum_records_the_verified_value(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp-ok", ChecksumAlgorithm="CRC32")
    r = s3.upload_part(Bucket=bucket, Key="mp-ok", UploadId=up["UploadId"], PartNumber=1,
                       Body=BODY, ChecksumAlgorithm="CRC32")
    crc = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
    assert r["ChecksumCRC32"] == crc
    parts = s3.list_parts(Bucket=bucket, Key="mp-ok", UploadId=up["UploadId"])["Parts"]
    assert parts[0]["ChecksumCRC32"] == crc
