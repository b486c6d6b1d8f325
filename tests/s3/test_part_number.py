"""GetObject/HeadObject with `partNumber`, and anonymous ListBuckets."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from s3_helpers import raw_request

MiB = 1024 * 1024


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture
def multipart(s3: Any, bucket: str) -> list[bytes]:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), b"tail"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
    return parts


def test_get_part_answers_that_parts_bytes_with_206(s3: Any, bucket: str,
                                                    multipart: list[bytes]) -> None:
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == multipart[1]
    start = len(multipart[0])
    total = sum(map(len, multipart))
    assert got["ContentRange"] == f"bytes {start}-{start + len(multipart[1]) - 1}/{total}"
    assert got["PartsCount"] == 3


def test_get_last_part(s3: Any, bucket: str, multipart: list[bytes]) -> None:
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)["Body"].read() == b"tail"


def test_get_part_keeps_the_whole_objects_etag(s3: Any, bucket: str,
                                               multipart: list[bytes]) -> None:
    whole = s3.head_object(Bucket=bucket, Key="mp")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)["ETag"] == whole


def test_head_part_answers_its_length_and_parts_count(s3: Any, bucket: str,
                                                      multipart: list[bytes]) -> None:
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert head["ContentLength"] == len(multipart[0]) and head["PartsCount"] == 3
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_part_past_the_last_is_invalid_part_number(s3: Any, bucket: str,
                                                   multipart: list[bytes]) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=4)
    assert err(e) == (416, "InvalidPartNumber")


def test_part_one_of_a_single_part_object_is_the_whole_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"whole body")
    got = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert got["Body"].read() == b"whole body"
    assert "PartsCount" not in got


def test_part_two_of_a_single_part_object_is_invalid_part_number(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"whole body")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=2)
    assert err(e) == (416, "InvalidPartNumber")


@pytest.mark.parametrize("value", ["0", "10001", "abc", "-1"])
def test_invalid_part_number_values_are_400(s3: Any, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"x")
    r = raw_request(s3, "GET", f"/{bucket}/single?partNumber={value}")
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text


def test_part_of_a_missing_object_is_no_such_key(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="absent", PartNumber=1)
    assert err(e) == (404, "NoSuchKey")


def test_anonymous_list_buckets_is_access_denied(server: Any) -> None:
    r = httpx.get(server.s3_url + "/")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
