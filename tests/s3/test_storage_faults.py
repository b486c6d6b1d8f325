"""Full disks and other storage faults on the S3 port: PutObject and UploadPart on a full disk
answer 507 XMinioStorageFull (MinIO's code, which S3 tools recognise; S3 has none of its own)
and store nothing; DeleteObject still frees space at 0 bytes free; a vanished data directory is
503 ServiceUnavailable with Retry-After.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from disk_faults import RESERVE, disk, fill  # noqa: F401 (disk: a fixture)
from s3_helpers import create_s3_user, make_client, unique_bucket

BIG = os.urandom(300 * 1024)
PART = os.urandom(5 * 1024 * 1024)


@pytest.fixture
def served(disk: Path, start_server: Callable[..., Any]) -> Iterator[tuple[Any, Any, str]]:
    srv = start_server("--storage-reserve", str(RESERVE), data_dir=disk / "data")
    root = srv.operator()
    user = create_s3_user(srv, root, "faults")
    s3 = make_client(srv, user.access_key, user.secret_key)
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    yield srv, s3, bucket
    user.close()
    root.close()


def _error(call: Callable[[], Any]) -> tuple[int, str, dict[str, str]]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["ResponseMetadata"]["HTTPHeaders"])


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_put_object_on_a_full_disk_is_507_storage_full_and_stores_nothing(served: Any, disk: Path) -> None:
    _srv, s3, bucket = served
    fill(disk)
    status, code, _headers = _error(lambda: s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG))
    assert (status, code) == (507, "XMinioStorageFull")
    assert _keys(s3, bucket) == []


def test_the_error_message_names_the_full_disk(served: Any, disk: Path) -> None:
    _srv, s3, bucket = served
    fill(disk)
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG)
    assert "full" in info.value.response["Error"]["Message"]


def test_upload_part_on_a_full_disk_is_507_and_the_part_is_not_listed(served: Any, disk: Path) -> None:
    _srv, s3, bucket = served
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp.bin")["UploadId"]
    fill(disk)
    status, code, _headers = _error(lambda: s3.upload_part(
        Bucket=bucket, Key="mp.bin", UploadId=upload_id, PartNumber=1, Body=PART))
    assert (status, code) == (507, "XMinioStorageFull")
    assert s3.list_parts(Bucket=bucket, Key="mp.bin", UploadId=upload_id).get("Parts", []) == []


def test_delete_object_frees_space_at_zero_bytes_free(served: Any, disk: Path) -> None:
    _srv, s3, bucket = served
    s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG)
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"small")
    fill(disk)
    s3.delete_object(Bucket=bucket, Key="big.bin")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "small.txt"}]})
    assert _keys(s3, bucket) == []


def test_writes_work_again_once_space_is_freed(served: Any, disk: Path) -> None:
    _srv, s3, bucket = served
    filler = fill(disk)
    _error(lambda: s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG))
    filler.unlink()
    s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG)
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == BIG


def test_a_vanished_data_directory_is_503_with_retry_after(served: Any) -> None:
    srv, s3, bucket = served
    blobs = Path(srv.data_dir) / "blobs"
    blobs.rename(blobs.with_name("blobs.away"))
    try:
        status, code, headers = _error(lambda: s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG))
    finally:
        blobs.with_name("blobs.away").rename(blobs)
    assert (status, code) == (503, "ServiceUnavailable")
    assert int(headers["retry-after"]) > 0
    s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG)


def test_reading_from_a_vanished_data_directory_is_503(served: Any) -> None:
    srv, s3, bucket = served
    s3.put_object(Bucket=bucket, Key="big.bin", Body=BIG)
    blobs = Path(srv.data_dir) / "blobs"
    blobs.rename(blobs.with_name("blobs.away"))
    try:
        status, code, _headers = _error(lambda: s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read())
    finally:
        blobs.with_name("blobs.away").rename(blobs)
    assert (status, code) == (503, "ServiceUnavailable")
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == BIG
