"""The same server on PostgreSQL: the metadata store is the only thing that changes.

Runs against the PostgreSQL on this machine (`KOSHA_TEST_POSTGRES_URL`, default the local
server with trust auth), in a database created for the run and dropped after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.postgres_db import admin_connection, fresh_database
from botocore.config import Config

@pytest.fixture(scope="module")
def pg_server(server_factory: Any) -> Iterator[Any]:
    with fresh_database() as url:
        instance = server_factory("--database-url", url)
        instance.database_name = url.rsplit("/", 1)[1]
        yield instance
        instance.stop()


@pytest.fixture(scope="module")
def pg_account(pg_server: Any) -> Iterator[Any]:
    root = pg_server.operator()
    client = pg_server.new_user(root, pg_server.new_account(root), admin=True)
    yield client
    client.close()
    root.close()


@pytest.fixture(scope="module")
def pg_s3(pg_server: Any, pg_account: Any) -> Any:
    return boto3.client("s3", endpoint_url=pg_server.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=pg_account.access_key,
                        aws_secret_access_key=pg_account.secret_key,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))


def _bucket(client: Any, **body: Any) -> str:
    name = f"pg-{uuid.uuid4().hex[:10]}"
    response = client.post("/kos/v1/buckets", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return name


def test_the_metadata_lives_in_postgresql_not_sqlite(pg_server: Any, pg_account: Any) -> None:
    _bucket(pg_account)
    assert not (Path(pg_server.data_dir) / "kosha.db").exists()


def test_objects_written_over_kos_are_read_over_s3(pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account)
    response = pg_account.put(f"/kos/v1/buckets/{bucket}/objects", data={"prefix": "docs/"},
                              files={"file": ("a.txt", b"hello postgres", "text/plain")})
    assert response.status_code == 201, response.text
    body = pg_s3.get_object(Bucket=bucket, Key="docs/a.txt")["Body"].read()
    assert body == b"hello postgres"


def test_listing_orders_keys_by_their_bytes_and_rolls_up_folders(pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account)
    keys = ["Zebra", "a/1", "a/2", "b", "é", "~tilde"]
    for key in keys:
        pg_s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = pg_s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == sorted(k for k in keys if "/" not in k)
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["a/"]
    kos = pg_account.get(f"/kos/v1/buckets/{bucket}/objects", params={"prefix": "a/"}).json()
    assert [o["key"] for o in kos["objects"]] == ["a/1", "a/2"]


def test_used_capacity_stays_exact_across_overwrite_copy_and_delete(pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account)
    pg_s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
    pg_s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 70_000)
    pg_s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
    pg_s3.delete_object(Bucket=bucket, Key="k")
    used = pg_account.get(f"/kos/v1/buckets/{bucket}").json()["usedCapacity"]
    assert used == 70_000


def test_versioning_keeps_every_version(pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account, versioning=True)
    first = pg_s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    pg_s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    pg_s3.delete_object(Bucket=bucket, Key="v")
    versions = pg_s3.list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1
    old = pg_s3.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read()
    assert old == b"one"


def test_multipart_upload_completes_on_postgresql(pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account)
    upload = pg_s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = []
    for number, fill in ((1, b"a"), (2, b"b")):
        size = 5 * 1024 * 1024 if number == 1 else 1024
        etag = pg_s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=number,
                                 Body=fill * size)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    pg_s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                    MultipartUpload={"Parts": parts})
    head = pg_s3.head_object(Bucket=bucket, Key="mp")
    assert head["ContentLength"] == 5 * 1024 * 1024 + 1024
    assert head["ETag"].endswith('-2"')


def test_reads_right_after_postgresql_closed_every_connection_answer_200(
        pg_server: Any, pg_account: Any, pg_s3: Any) -> None:
    bucket = _bucket(pg_account)
    pg_s3.put_object(Bucket=bucket, Key="k", Body=b"still here")
    with ThreadPoolExecutor(8) as pool:  # fill the pool of reading connections
        list(pool.map(lambda _: pg_s3.get_object(Bucket=bucket, Key="k")["Body"].read(), range(32)))
    admin = admin_connection()
    try:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (pg_server.database_name,))
    finally:
        admin.close()
    no_retry = boto3.client("s3", endpoint_url=pg_server.s3_url, region_name="In-Bangalore-1",
                            aws_access_key_id=pg_account.access_key,
                            aws_secret_access_key=pg_account.secret_key,
                            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                          retries={"total_max_attempts": 1}))
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: no_retry.get_object(Bucket=bucket, Key="k")["Body"].read(),
                               range(8)))
    assert bodies == [b"still here"] * 8
