"""Reads racing writes of the same key: a GET answers the old or the new object, whole and
consistent (body, length and ETag of one version), never a 5xx.

An overwrite or a delete drops the replaced blob once it commits; a GET that read the row
before must still answer. Each test runs on SQLite and on PostgreSQL (tests/postgres_db.py),
with 1 MiB bodies (blob-store objects, not inline ones), threads writing and reading at once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.api.kos_helpers import download
from tests.postgres_db import fresh_database
from tests.race_helpers import VERSIONS, race, s3_get

SIZE = 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine_server(request: pytest.FixtureRequest, server_factory: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        yield server_factory()
        return
    with fresh_database() as url:
        instance = server_factory("--database-url", url)
        yield instance
        instance.stop()


@pytest.fixture(scope="module")
def account(engine_server: Any) -> Iterator[Any]:
    root = engine_server.operator()
    client = engine_server.new_user(root, engine_server.new_account(root), admin=True)
    yield client
    client.close()
    root.close()


@pytest.fixture(scope="module")
def s3(engine_server: Any, account: Any) -> Any:
    """A client that does not retry, so every 5xx the server answers is seen."""
    return boto3.client("s3", endpoint_url=engine_server.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=account.access_key,
                        aws_secret_access_key=account.secret_key,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"max_attempts": 1, "mode": "standard"},
                                      max_pool_connections=8))


@pytest.fixture(scope="module")
def bodies() -> dict[str, bytes]:
    """Bodies by their MD5 (the ETag a single PUT answers)."""
    made = [os.urandom(SIZE) for _ in range(VERSIONS)]
    return {hashlib.md5(b).hexdigest(): b for b in made}


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"race-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def test_gets_racing_overwrites_answer_one_whole_version(s3: Any, bucket: str,
                                                         bodies: dict[str, bytes]) -> None:
    payloads = list(bodies.values())
    s3.put_object(Bucket=bucket, Key="k", Body=payloads[0])
    outcomes = race(lambda n: s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS]),
                     lambda: s3_get(s3, bucket, "k"))
    assert {status for status, *_ in outcomes} == {200}
    assert all(bodies[etag] == body and length == SIZE for _, etag, body, length in outcomes)


def test_ranged_gets_racing_overwrites_answer_the_range_of_one_version(
        s3: Any, bucket: str, bodies: dict[str, bytes]) -> None:
    payloads = list(bodies.values())
    s3.put_object(Bucket=bucket, Key="k", Body=payloads[0])
    outcomes = race(lambda n: s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS]),
                     lambda: s3_get(s3, bucket, "k", Range="bytes=1000-300999"))
    assert {status for status, *_ in outcomes} == {206}
    assert all(bodies[etag][1000:301000] == body for _, etag, body, _ in outcomes)


def test_gets_racing_deletes_answer_the_object_or_no_such_key(s3: Any, bucket: str,
                                                              bodies: dict[str, bytes]) -> None:
    payloads = list(bodies.values())

    def put_or_delete(n: int) -> None:
        if n % 2:
            s3.delete_object(Bucket=bucket, Key="k")
        else:
            s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS])

    outcomes = race(put_or_delete, lambda: s3_get(s3, bucket, "k"))
    assert {status for status, *_ in outcomes} <= {200, 404}
    assert all(bodies[etag] == body for status, etag, body, _ in outcomes if status == 200)


def test_gets_of_a_version_deleted_meanwhile_answer_it_whole_or_no_such_version(
        s3: Any, bucket: str, bodies: dict[str, bytes]) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    payloads = list(bodies.values())
    versions: list[str] = []
    lock = threading.Lock()

    def put_then_drop(n: int) -> None:
        vid = s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS])["VersionId"]
        with lock:
            versions.append(vid)
            old = versions.pop(0) if len(versions) > 2 else None
        if old is not None:
            s3.delete_object(Bucket=bucket, Key="k", VersionId=old)

    put_then_drop(0)

    def get_oldest() -> tuple[int, str, bytes, int]:
        with lock:
            vid = versions[0]
        return s3_get(s3, bucket, "k", VersionId=vid)

    outcomes = race(put_then_drop, get_oldest)
    assert {status for status, *_ in outcomes} <= {200, 404}
    assert all(bodies[etag] == body for status, etag, body, _ in outcomes if status == 200)


def test_kos_downloads_racing_overwrites_answer_one_whole_version(
        s3: Any, account: Any, bucket: str, bodies: dict[str, bytes]) -> None:
    payloads = list(bodies.values())
    s3.put_object(Bucket=bucket, Key="k", Body=payloads[0])

    def get() -> tuple[int, str, bytes]:
        response = download(account, bucket, "k")
        assert response.status_code < 500, response.text
        return response.status_code, response.headers.get("etag", "").strip('"'), response.content

    outcomes = race(lambda n: s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS]),
                     get)
    assert {status for status, *_ in outcomes} == {200}
    assert all(bodies[etag] == body for _, etag, body in outcomes)
