"""Three server processes on ONE PostgreSQL and ONE Ceph RGW, as a deployment behind a load
balancer runs them: what one process writes the others read, concurrent writers of the same keys
end consistent, and a process killed mid-upload leaves nothing partial and nothing orphaned."""

from __future__ import annotations

import http.client
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import MASTER_KEY
from .rgw_helpers import MiB, admin_user, gc, kosha_s3, new_bucket, referenced_blobs_pg


@dataclass
class Cluster:
    servers: list[Any]
    s3: list[Any]
    user: Any
    blob_bucket: str
    pg_url: str
    flags: tuple[str, ...]
    env: dict[str, str]

    def capacity(self, bucket: str, via: int = 0) -> int:
        answer = httpx.get(f"{self.servers[via].kos_url}/kos/v1/buckets/{bucket}", timeout=30,
                           headers={"Authorization": f"Bearer {self.user.session_token}"})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["usedCapacity"])

    def listed_sizes(self, bucket: str) -> dict[str, int]:
        pages = self.s3[0].get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture(scope="module")
def cluster(rgw: Any, pg_url: str, server_factory: Any) -> Iterator[Cluster]:
    blob_bucket = rgw.new_bucket()
    flags = ("--database-url", pg_url, "--blobs", rgw.blobs_url(blob_bucket))
    env = {**rgw.env, "KOSHA_MASTER_KEY": MASTER_KEY}
    servers = [server_factory(*flags, env=env) for _ in range(3)]
    user = admin_user(servers[0])
    clients = [kosha_s3(s, user.access_key, user.secret_key) for s in servers]
    yield Cluster(servers, clients, user, blob_bucket, pg_url, flags, env)
    for s in servers:
        s.stop()


def test_what_one_process_writes_the_others_read_at_once(cluster: Cluster) -> None:
    a, b, c = cluster.s3
    bucket = new_bucket(a)
    for i in range(20):
        data = os.urandom(random.choice([100, 200 * 1024]))   # inline and in RGW
        a.put_object(Bucket=bucket, Key=f"k{i}", Body=data)
        assert b.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == data
        c.delete_object(Bucket=bucket, Key=f"k{i}")
        with pytest.raises(ClientError) as gone:
            a.head_object(Bucket=bucket, Key=f"k{i}")
        assert gone.value.response["Error"]["Code"] in ("404", "NoSuchKey")


def test_each_process_is_ready_and_holds_no_disk_reserve(cluster: Cluster) -> None:
    for server in cluster.servers:
        answer = httpx.get(f"{server.kos_url}/readyz", timeout=10)
        assert answer.status_code == 200, answer.text
        assert not (server.data_dir / "reserve").exists()   # nothing of Kosha's grows on this disk


def test_concurrent_writers_of_the_same_keys_end_with_usedcapacity_equal_to_the_listed_sizes(
        cluster: Cluster, rgw: Any) -> None:
    bucket = new_bucket(cluster.s3[0])
    keys = [f"hot/{i}" for i in range(4)]
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def writer(n: int) -> None:
        s3 = kosha_s3(cluster.servers[n % 3], cluster.user.access_key, cluster.user.secret_key)
        rng = random.Random(n)
        for _ in range(25):
            key = rng.choice(keys)
            try:
                if rng.random() < 0.25:
                    s3.delete_object(Bucket=bucket, Key=key)
                else:
                    s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(rng.choice([10, 5000, 100 * 1024])))
                result = "ok"
            except ClientError as exc:
                result = str(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert outcomes == Counter({"ok": 9 * 25})
    listed = cluster.listed_sizes(bucket)
    assert all(cluster.capacity(bucket, via=n) == sum(listed.values()) for n in range(3))


def _stream_put(server: Any, bucket: str, key: str, token: str, total: int, sent: threading.Event,
                stop: threading.Event) -> None:
    """A KOS upload of `total` bytes that sends 24 MiB, signals, then trickles until stopped."""
    boundary = "kosha-cluster-test"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{key}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.putrequest("PUT", f"/kos/v1/buckets/{bucket}/objects")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + total))
        connection.endheaders()
        connection.send(head)
        for _ in range(24):
            connection.send(os.urandom(MiB))
        sent.set()
        while not stop.is_set():
            connection.send(b"\0" * 4096)
            time.sleep(0.05)
    except OSError:
        pass   # the server died under it, as intended
    finally:
        sent.set()
        connection.close()


def _stream_part(victim: Any, bucket: str, key: str, upload_id: str, access_key: str, secret_key: str,
                 stop: threading.Event) -> None:
    """An UploadPart whose body never finishes arriving (the server is killed meanwhile)."""
    s3 = kosha_s3(victim, access_key, secret_key)

    class Slow:
        def __init__(self) -> None:
            self.left = 20 * MiB

        def read(self, n: int = -1) -> bytes:
            if self.left <= 0 or stop.is_set():
                time.sleep(0.5)
                return b""
            size = min(self.left, MiB if n < 0 else min(n, MiB))
            self.left -= size
            time.sleep(0.02)
            return b"\1" * size

    try:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=Slow(),
                       ContentLength=20 * MiB)
    except Exception:
        pass


def test_kill_9_of_one_process_mid_upload_and_mid_multipart_leaves_nothing_partial_or_orphaned(
        cluster: Cluster, rgw: Any, server_factory: Any) -> None:
    victim = server_factory(*cluster.flags, env=cluster.env)
    a, b = cluster.s3[0], cluster.s3[1]
    bucket = new_bucket(a)
    a.put_object(Bucket=bucket, Key="before", Body=os.urandom(300 * 1024))
    upload_id = a.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    first = a.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=os.urandom(5 * MiB))
    sent, stop = threading.Event(), threading.Event()
    senders = [
        threading.Thread(target=_stream_put, args=(victim, bucket, "big", cluster.user.session_token,
                                                   64 * MiB, sent, stop)),
        threading.Thread(target=_stream_part, args=(victim, bucket, "mp", upload_id,
                                                    cluster.user.access_key, cluster.user.secret_key, stop)),
    ]
    for t in senders:
        t.start()
    assert sent.wait(60)
    time.sleep(1)                          # the big PUT has backend parts in flight
    assert rgw.unfinished_uploads(cluster.blob_bucket), "the big upload never reached RGW"
    victim.kill()
    stop.set()
    for t in senders:
        t.join(timeout=60)

    data = os.urandom(400 * 1024)          # the others keep serving
    b.put_object(Bucket=bucket, Key="after", Body=data)
    assert a.get_object(Bucket=bucket, Key="after")["Body"].read() == data
    assert set(cluster.listed_sizes(bucket)) == {"before", "after"}
    with pytest.raises(ClientError):
        b.head_object(Bucket=bucket, Key="big")
    parts = b.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, first["ETag"])]
    assert cluster.capacity(bucket, via=1) == sum(cluster.listed_sizes(bucket).values())

    b.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    gc(victim, rgw.env)
    backend = {k.removeprefix("blobs/") for k in rgw.keys(cluster.blob_bucket)} - {"kosha-owner"}
    assert backend == referenced_blobs_pg(cluster.pg_url)
    assert rgw.unfinished_uploads(cluster.blob_bucket) == []
