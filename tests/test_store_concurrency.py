"""One store, whatever process answers: three `kosha serve` processes on one database.

Each test runs on SQLite (one file shared by the processes) and on PostgreSQL (a database made
for the module, `KOSHA_TEST_POSTGRES_URL` as in test_postgres.py), with one --data directory.
The processes are started at the same moment, as a supervisor or an operator's script would.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ADMIN_URL = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")
PROCESSES = 3
REGION = "In-Bangalore-1"
ENGINES = ["sqlite", "postgresql"]
START_SECONDS = 120   # three interpreters importing at once on a shared two-core machine


class _Databases:
    """Empty PostgreSQL databases made on demand and dropped at the end."""

    def __init__(self) -> None:
        psycopg = pytest.importorskip("psycopg")
        try:
            self.admin = psycopg.connect(ADMIN_URL, autocommit=True)
        except psycopg.OperationalError as exc:
            pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")
        self.names: list[str] = []

    def new(self) -> str:
        name = f"kosha_race_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        for name in self.names:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


@pytest.fixture(scope="module")
def databases() -> Iterator[_Databases]:
    made = _Databases()
    yield made
    made.drop_all()


def _start_together(start: Callable[..., Any], engine: str, databases: Callable[[], _Databases],
                    data_dir: Path) -> list[Any]:
    """PROCESSES servers on one empty store, launched at the same moment."""
    flags = ("--database-url", databases().new()) if engine == "postgresql" else ()
    with ThreadPoolExecutor(PROCESSES) as pool:
        return list(pool.map(lambda _: start(*flags, data_dir=data_dir), range(PROCESSES)))


@pytest.fixture(scope="module", autouse=True)
def patient_starts(server_factory: Any) -> Iterator[None]:
    """Servers started together get longer than conftest's START_TIMEOUT to answer: each must
    come up, and on a loaded machine three at once can take more than its 30 s."""
    fixtures = type(server_factory).__call__.__globals__   # conftest's own globals: another
    saved = fixtures["START_TIMEOUT"]                          # conftest may hold its name
    fixtures["START_TIMEOUT"] = max(saved, START_SECONDS)
    yield
    fixtures["START_TIMEOUT"] = saved


@pytest.fixture(scope="module", params=ENGINES)
def trio(request: pytest.FixtureRequest, server_factory: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    servers = _start_together(server_factory, request.param,
                              lambda: request.getfixturevalue("databases"),
                              tmp_path_factory.mktemp("trio") / "data")
    yield servers
    for instance in servers:
        instance.stop()


class Tenant:
    """One admin user, with a KOS client and an S3 client on each process (no client retries:
    a 5xx must be seen, not hidden)."""

    def __init__(self, servers: list[Any]) -> None:
        root = servers[0].operator()
        user = servers[0].new_user(root, servers[0].new_account(root), admin=True)
        root.close()
        self.user = user
        self.kos = [httpx.Client(base_url=s.kos_url, timeout=60,
                                 headers={"Authorization": f"Bearer {user.session_token}"})
                    for s in servers]
        no_retries = Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                            retries={"total_max_attempts": 1}, max_pool_connections=32)
        self.s3 = [boto3.client("s3", endpoint_url=s.s3_url, region_name=REGION,
                                aws_access_key_id=user.access_key,
                                aws_secret_access_key=user.secret_key, config=no_retries)
                   for s in servers]

    def bucket(self, versioning: bool = False) -> str:
        name = f"race-{uuid.uuid4().hex[:10]}"
        response = self.kos[0].post("/kos/v1/buckets", json={"name": name, "versioning": versioning})
        assert response.status_code == 201, response.text
        return name

    def usage(self, bucket: str, via: int = 0) -> tuple[int, int]:
        body = self.kos[via].get(f"/kos/v1/buckets/{bucket}").json()
        return int(body["usedCapacity"]), int(body["objectCount"])

    def close(self) -> None:
        for client in self.kos:
            client.close()
        self.user.close()


@pytest.fixture(scope="module")
def tenant(trio: list[Any]) -> Iterator[Tenant]:
    made = Tenant(trio)
    yield made
    made.close()


def _status(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


# -- start-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_processes_started_together_on_an_empty_store_all_come_up(
        engine: str, start_server: Any, request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    for _attempt in range(5):
        data_dir = tmp_path_factory.mktemp("together") / "data"
        servers = _start_together(start_server, engine, lambda: request.getfixturevalue("databases"),
                                  data_dir)
        sessions = [s.activate(s.root_access_key, s.root_secret_key) for s in servers]
        assert all(session["sessionToken"] for session in sessions)
        for instance in servers:
            instance.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_processes_started_together_make_one_operator(
        engine: str, start_server: Any, request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("operator") / "data"
    servers = _start_together(start_server, engine, lambda: request.getfixturevalue("databases"),
                              data_dir)
    root = servers[-1].operator()
    users = root.get("/internal/kos/v1/accounts/000000000000/users")
    assert users.status_code == 200, users.text
    body = users.json()
    listed = body if isinstance(body, list) else body.get("users", body.get("items", []))
    assert len(listed) == 1
    root.close()


# -- concurrent writers of the same keys ---------------------------------------------------------


def _storm(tenant: Tenant, bucket: str, keys: list[str], writes: int, delete_every: int
           ) -> tuple[list[int], dict[str, set[bytes]]]:
    """`writes` PUTs (and a DELETE every `delete_every`) of `keys`, spread over the processes
    from 24 threads; answers the 5xx statuses seen and every body written per key."""
    written: dict[str, set[bytes]] = defaultdict(set)
    plan = []
    for i in range(writes):
        key = keys[i % len(keys)]
        body = f"{key}:{i}:".encode() * random.randint(1, 400)
        written[key].add(body)
        plan.append((i, key, body))

    def one(step: tuple[int, str, bytes]) -> int:
        i, key, body = step
        s3 = tenant.s3[i % len(tenant.s3)]
        try:
            if delete_every and i % delete_every == delete_every - 1:
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        except ClientError as exc:
            return _status(exc)
        return 200

    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(one, plan))
    return [s for s in statuses if s >= 500], written


def _listed_versions(s3: Any, bucket: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    versions: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


def test_concurrent_puts_and_deletes_of_few_keys_never_answer_5xx(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    failures, _written = _storm(tenant, bucket, [f"k{i}" for i in range(4)], 360, 7)
    assert failures == []


def test_concurrent_writers_leave_used_capacity_equal_to_the_listed_sizes(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    failures, written = _storm(tenant, bucket, [f"k{i}" for i in range(5)], 320, 6)
    assert failures == []
    listed = [o for page in tenant.s3[1].get_paginator("list_objects_v2").paginate(Bucket=bucket)
              for o in page.get("Contents", [])]
    assert tenant.usage(bucket, via=2) == (sum(o["Size"] for o in listed), len(listed))


def test_each_key_ends_with_one_of_the_bodies_written_to_it(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    failures, written = _storm(tenant, bucket, [f"k{i}" for i in range(3)], 300, 0)
    assert failures == []
    for i, key in enumerate(sorted(written)):
        body = tenant.s3[i % PROCESSES].get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body in written[key]


def test_versioned_bucket_keeps_every_concurrent_version_and_counts_them(tenant: Tenant) -> None:
    bucket = tenant.bucket(versioning=True)
    failures, written = _storm(tenant, bucket, [f"v{i}" for i in range(4)], 320, 5)
    assert failures == []
    versions, markers = _listed_versions(tenant.s3[2], bucket)
    puts = sum(1 for i in range(320) if i % 5 != 4)
    assert (len(versions), len(markers)) == (puts, 320 - puts)
    assert tenant.usage(bucket, via=1) == (sum(v["Size"] for v in versions), len(versions))
    latest = [v for v in versions + markers if v["IsLatest"]]
    assert sorted(v["Key"] for v in latest) == sorted(written)


def test_concurrent_copies_onto_one_key_share_blobs_without_losing_counts(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    for i in range(4):
        tenant.s3[0].put_object(Bucket=bucket, Key=f"src{i}", Body=b"s" * (1000 * (i + 1)))

    def copy(i: int) -> int:
        try:
            tenant.s3[i % PROCESSES].copy_object(Bucket=bucket, Key="dst",
                                                 CopySource={"Bucket": bucket, "Key": f"src{i % 4}"})
        except ClientError as exc:
            return _status(exc)
        return 200

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(copy, range(120)))
    assert [s for s in statuses if s >= 500] == []
    assert tenant.usage(bucket) == (1000 + 2000 + 3000 + 4000 + len(tenant.s3[1].get_object(
        Bucket=bucket, Key="dst")["Body"].read()), 5)


def test_concurrent_multipart_completions_of_one_key_never_answer_5xx(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    part = b"p" * (5 * 1024 * 1024)

    def upload(i: int) -> int:
        s3 = tenant.s3[i % PROCESSES]
        try:
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
            etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=1,
                                  Body=part)["ETag"]
            tail = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=2,
                                  Body=b"t" * (i + 1))["ETag"]
            s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag},
                                                                    {"PartNumber": 2, "ETag": tail}]})
        except ClientError as exc:
            return _status(exc)
        return 200

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(upload, range(12)))
    assert statuses == [200] * 12
    size = tenant.s3[2].head_object(Bucket=bucket, Key="big")["ContentLength"]
    assert tenant.usage(bucket) == (size, 1)


def test_concurrent_creates_of_one_bucket_name_make_one_bucket_and_conflicts(tenant: Tenant) -> None:
    name = f"race-{uuid.uuid4().hex[:10]}"

    def create(i: int) -> int:
        return tenant.kos[i % PROCESSES].post("/kos/v1/buckets", json={"name": name}).status_code

    with ThreadPoolExecutor(9) as pool:
        statuses = sorted(pool.map(create, range(9)))
    assert statuses == [201] + [409] * 8


# -- read-after-write across processes ------------------------------------------------------------


def test_a_write_through_one_process_is_read_at_once_through_the_others(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    for i in range(40):
        body = f"round {i}".encode()
        tenant.s3[i % PROCESSES].put_object(Bucket=bucket, Key="raw", Body=body)
        for j in range(1, PROCESSES):
            got = tenant.s3[(i + j) % PROCESSES].get_object(Bucket=bucket, Key="raw")["Body"].read()
            assert got == body


def test_a_delete_through_one_process_is_seen_at_once_by_the_others(tenant: Tenant) -> None:
    bucket = tenant.bucket()
    for i in range(30):
        tenant.s3[i % PROCESSES].put_object(Bucket=bucket, Key="gone", Body=b"here")
        tenant.s3[(i + 1) % PROCESSES].get_object(Bucket=bucket, Key="gone")   # now remembered
        tenant.s3[(i + 2) % PROCESSES].delete_object(Bucket=bucket, Key="gone")
        for j in range(PROCESSES):
            with pytest.raises(ClientError) as info:
                tenant.s3[j].get_object(Bucket=bucket, Key="gone")
            assert _status(info.value) == 404


def test_a_bucket_made_through_one_process_takes_writes_through_another(tenant: Tenant) -> None:
    name = tenant.bucket()
    tenant.s3[1].put_object(Bucket=name, Key="first", Body=b"1")
    listed = tenant.kos[2].get(f"/kos/v1/buckets/{name}/objects").json()
    assert [o["key"] for o in listed["objects"]] == ["first"]


def test_a_bucket_deleted_through_one_process_refuses_writes_through_another(tenant: Tenant) -> None:
    name = tenant.bucket()
    tenant.s3[1].put_object(Bucket=name, Key="warm", Body=b"w")      # process 1 knows the bucket
    tenant.s3[1].delete_object(Bucket=name, Key="warm")
    assert tenant.kos[0].delete(f"/kos/v1/buckets/{name}").status_code in (200, 204)
    assert tenant.kos[2].get(f"/kos/v1/buckets/{name}").status_code == 404
    with pytest.raises(ClientError) as info:
        tenant.s3[1].put_object(Bucket=name, Key="late", Body=b"l")
    assert _status(info.value) == 404


# -- a process killed mid-upload --------------------------------------------------------------------


def _half_upload(server: Any, token: str, bucket: str, key: str, size: int) -> socket.socket:
    """A KOS form upload of `size` bytes of which only half is sent; the socket stays open."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{key}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = (f"PUT /kos/v1/buckets/{bucket}/objects HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               f"Authorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(head) + size + len(tail)}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request + head + b"n" * (size // 2))
    return sock


def test_a_process_killed_mid_upload_leaves_the_old_object_and_exact_counts(
        trio: list[Any], tenant: Tenant) -> None:
    bucket = tenant.bucket()
    tenant.s3[1].put_object(Bucket=bucket, Key="big.bin", Body=b"old")
    before = tenant.usage(bucket)
    victim = trio[0]
    sock = _half_upload(victim, tenant.user.session_token, bucket, "big.bin", 32 * 1024 * 1024)
    tmp = Path(victim.data_dir) / "blobs" / "tmp"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (tmp.is_dir() and any(tmp.iterdir())):
        time.sleep(0.02)   # the body is streaming into a temporary blob
    victim.kill()
    sock.close()
    try:
        assert tenant.s3[1].get_object(Bucket=bucket, Key="big.bin")["Body"].read() == b"old"
        assert tenant.usage(bucket, via=2) == before
        listed = tenant.s3[2].list_objects_v2(Bucket=bucket)["Contents"]
        assert [(o["Key"], o["Size"]) for o in listed] == [("big.bin", 3)]
    finally:
        victim.start()


# -- SQLite: the writers' turn (kosha/store/write_turn.py) ----------------------------------------


def _sqlite_turn(trio: list[Any]) -> Path:
    """The turn file the processes' writers queue on; PostgreSQL has none (skip)."""
    if "--database-url" in trio[0].flags:
        pytest.skip("the writers' turn is SQLite's: PostgreSQL serialises writers itself")
    return Path(trio[0].data_dir) / "kosha.db-writer.lock"


HOLD_TURN = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def _hold_turn(path: Path) -> subprocess.Popen[str]:
    """Another process that takes the writers' turn and keeps it (until killed)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_TURN, str(path)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_writes_wait_for_the_turn_another_process_holds_while_reads_are_answered(
        trio: list[Any], tenant: Tenant) -> None:
    turn = _sqlite_turn(trio)
    bucket = tenant.bucket()
    tenant.s3[0].put_object(Bucket=bucket, Key="old", Body=b"old")
    holder = _hold_turn(turn)
    try:
        with ThreadPoolExecutor(PROCESSES) as pool:
            puts = [pool.submit(tenant.s3[i].put_object, Bucket=bucket, Key=f"new{i}", Body=b"n")
                    for i in range(PROCESSES)]
            for i in range(PROCESSES):
                assert tenant.s3[i].get_object(Bucket=bucket, Key="old")["Body"].read() == b"old"
            assert not any(put.done() for put in puts)
            holder.terminate()
            holder.wait()
            assert [put.result(timeout=60)["ResponseMetadata"]["HTTPStatusCode"]
                    for put in puts] == [200] * PROCESSES
    finally:
        holder.kill()
    assert tenant.usage(bucket, via=1) == (3 + PROCESSES, 1 + PROCESSES)


def test_a_writer_killed_holding_the_turn_does_not_stop_the_others(
        trio: list[Any], tenant: Tenant) -> None:
    turn = _sqlite_turn(trio)
    bucket = tenant.bucket()
    holder = _hold_turn(turn)
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(tenant.s3[2].put_object, Bucket=bucket, Key="after", Body=b"a")
        holder.kill()   # kill -9: the kernel lets go of its turn
        holder.wait()
        assert put.result(timeout=60)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert tenant.s3[0].get_object(Bucket=bucket, Key="after")["Body"].read() == b"a"
