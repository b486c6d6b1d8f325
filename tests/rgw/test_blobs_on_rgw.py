"""One server with `--blobs s3://...` on a real Ceph RGW: the object round trip, where the bytes
land, garbage collection of backend blobs, and uploads that fail or die half-way."""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.race_helpers import VERSIONS, race, s3_get

from .outage_proxy import OutageProxy
from .rgw_helpers import REPO, MiB, admin_user, gc, kosha_s3, new_bucket, referenced_blobs_sqlite

BOUNDARY = "kosha-rgw-test"


@pytest.fixture
def setup(blob_server: Any) -> tuple[Any, Any, Any]:
    server = blob_server()
    user = admin_user(server)
    return server, user, kosha_s3(server, user.access_key, user.secret_key)


def test_rest_upload_and_download_round_trip_through_rgw(setup: Any, rgw: Any) -> None:
    server, user, s3 = setup
    bucket = new_bucket(s3)
    data = os.urandom(300 * 1024)   # above the inline threshold: a blob in RGW
    answer = user.put(f"/kos/v1/buckets/{bucket}/objects", data={"prefix": "docs/"},
                      files={"file": ("a.bin", data, "application/octet-stream")})
    assert answer.status_code == 201, answer.text
    download = user.post(f"/kos/v1/buckets/{bucket}/objects/download", json={"objectkey": "docs/a.bin"},
                         headers={"Accept": "application/octet-stream"})
    assert download.content == data
    assert sorted(rgw.keys(server.blob_bucket).values()) == [len(data)]


def test_a_big_put_streams_into_one_backend_blob_and_reads_back(setup: Any, rgw: Any) -> None:
    server, _user, s3 = setup
    bucket = new_bucket(s3)
    data = os.urandom(40 * MiB + 7)   # more than one backend part
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert hashlib.md5(s3.get_object(Bucket=bucket, Key="big")["Body"].read()).digest() == hashlib.md5(data).digest()
    assert list(rgw.keys(server.blob_bucket).values()) == [len(data)]
    assert rgw.unfinished_uploads(server.blob_bucket) == []


def test_a_range_read_fetches_only_those_bytes(setup: Any) -> None:
    _server, _user, s3 = setup
    bucket = new_bucket(s3)
    data = os.urandom(3 * MiB)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={MiB - 5}-{2 * MiB + 4}")["Body"].read()
    assert got == data[MiB - 5:2 * MiB + 5]


def test_a_multipart_upload_keeps_one_backend_blob_per_part(setup: Any, rgw: Any) -> None:
    server, _user, s3 = setup
    bucket = new_bucket(s3)
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(123)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = [{"PartNumber": i + 1, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload,
                                                         PartNumber=i + 1, Body=p)["ETag"]}
            for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(parts)
    assert sorted(rgw.keys(server.blob_bucket).values()) == sorted(len(p) for p in parts)


def test_copy_and_rename_add_no_backend_blob(setup: Any, rgw: Any) -> None:
    server, user, s3 = setup
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=os.urandom(2 * MiB))
    before = rgw.keys(server.blob_bucket)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    moved = user.post(f"/kos/v1/buckets/{bucket}/objects/rename",
                      json={"oldKey": "copy", "newKey": "renamed"})
    assert moved.status_code in (200, 201), moved.text
    assert rgw.keys(server.blob_bucket) == before
    assert s3.get_object(Bucket=bucket, Key="renamed")["ContentLength"] == 2 * MiB


def test_deleting_the_last_reference_deletes_the_backend_blob(setup: Any, rgw: Any) -> None:
    server, _user, s3 = setup
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="a", Body=os.urandom(MiB))
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    s3.delete_object(Bucket=bucket, Key="a")
    assert len(rgw.keys(server.blob_bucket)) == 1      # "b" still shares it
    s3.delete_object(Bucket=bucket, Key="b")
    deadline = time.monotonic() + 10
    while rgw.keys(server.blob_bucket) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rgw.keys(server.blob_bucket) == {}


def test_gc_removes_unreferenced_backend_blobs_and_stale_uploads_but_nothing_else(
        setup: Any, rgw: Any) -> None:
    server, _user, s3 = setup
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="kept", Body=os.urandom(MiB))
    backend = rgw.client()
    orphan, stale, foreign = "blobs/" + "ab" * 16, "blobs/" + "cd" * 16, "blobs/operator-notes.txt"
    backend.put_object(Bucket=server.blob_bucket, Key=orphan, Body=b"nobody references me")
    backend.put_object(Bucket=server.blob_bucket, Key=foreign, Body=b"not a blob")
    backend.create_multipart_upload(Bucket=server.blob_bucket, Key=stale)
    result = gc(server, rgw.env)
    assert result == {"orphan_blobs_removed": 1, "temp_files_removed": 1}
    left = set(rgw.keys(server.blob_bucket))
    assert foreign in left and orphan not in left
    assert left - {foreign, "blobs/kosha-owner"} == {"blobs/" + b for b in referenced_blobs_sqlite(server.data_dir)}
    assert rgw.unfinished_uploads(server.blob_bucket) == []
    assert len(s3.get_object(Bucket=bucket, Key="kept")["Body"].read()) == MiB


def test_gc_from_another_database_refuses_and_deletes_nothing(setup: Any, rgw: Any, tmp_path: Any) -> None:
    server, _user, s3 = setup
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="precious", Body=os.urandom(MiB))
    gc(server, rgw.env)                                  # claims the location for its database
    blobs = server.flags[server.flags.index("--blobs") + 1]
    wrong = subprocess.run([sys.executable, "-m", "kosha", "gc", "--data", str(tmp_path / "other"),
                            "--blobs", blobs], cwd=REPO, capture_output=True, text=True, timeout=120,
                           env={**os.environ, **rgw.env, "PYTHONPATH": str(REPO),
                                "KOSHA_CLOCK_OFFSET": str(2 * 3600)})
    assert wrong.returncode == 2 and "belong to another deployment" in wrong.stderr
    assert len(rgw.keys(server.blob_bucket)) == 2         # the blob and the owner mark
    assert len(s3.get_object(Bucket=bucket, Key="precious")["Body"].read()) == MiB


def test_an_upload_cut_off_mid_body_leaves_no_backend_object_after_gc(setup: Any, rgw: Any) -> None:
    server, user, s3 = setup
    bucket = new_bucket(s3)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    connection.putrequest("PUT", f"/kos/v1/buckets/{bucket}/objects")
    connection.putheader("Authorization", f"Bearer {user.session_token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(len(head) + 64 * MiB))
    connection.endheaders()
    connection.send(head)
    for _ in range(40):                   # 40 of 64 MiB: past the first backend parts
        connection.send(os.urandom(MiB))
    time.sleep(1)
    connection.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:    # the server notices the cut and aborts its upload
        if not rgw.unfinished_uploads(server.blob_bucket):
            break
        time.sleep(0.2)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    gc(server, rgw.env)
    assert set(rgw.keys(server.blob_bucket)) == {"blobs/kosha-owner"}
    assert rgw.unfinished_uploads(server.blob_bucket) == []


def test_a_part_failing_in_flight_aborts_the_whole_upload_and_leaves_nothing_after_gc(
        rgw: Any, start_server: Any) -> None:
    # The cluster goes away 24 MiB into a 64 MiB blob: the second 16 MiB part is in flight.
    bucket = rgw.new_bucket()
    proxy = OutageProxy(int(rgw.endpoint.rsplit(":", 1)[1]), cut_after=24 * MiB, outage=5)
    try:
        server = start_server("--blobs", f"s3://{bucket}/blobs?endpoint={proxy.endpoint}", env=rgw.env)
        user = admin_user(server)
        s3 = kosha_s3(server, user.access_key, user.secret_key)
        target = new_bucket(s3)
        with pytest.raises((ClientError, BotoCoreError)) as failed:
            s3.put_object(Bucket=target, Key="big", Body=os.urandom(64 * MiB))
        assert proxy.cut
        if isinstance(failed.value, ClientError):
            assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        time.sleep(proxy.outage)            # the cluster is back
        assert s3.list_objects_v2(Bucket=target).get("KeyCount") == 0
        gc(server, rgw.env)
        assert set(rgw.keys(bucket)) == {"blobs/kosha-owner"}
        assert rgw.unfinished_uploads(bucket) == []
    finally:
        proxy.close()


def test_readiness_reports_the_blob_store_reachable(setup: Any) -> None:
    server, _user, _s3 = setup
    answer = httpx.get(f"{server.kos_url}/readyz", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["blobStore"] == {"status": "ok"}


def test_readiness_names_the_blob_store_when_the_cluster_refuses_kosha_key(
        blob_server: Any, rgw: Any) -> None:
    server = blob_server(env={"KOSHA_BLOBS_SECRET_KEY": "not-the-secret"})
    answer = httpx.get(f"{server.kos_url}/readyz", timeout=10)
    assert answer.status_code == 503, answer.text
    assert answer.json()["checks"]["blobStore"]["status"] == "failed"


def test_the_blob_secret_never_reaches_the_log(blob_server: Any, rgw: Any) -> None:
    server = blob_server(env={"KOSHA_LOG_LEVEL": "debug"})
    user = admin_user(server)
    s3 = kosha_s3(server, user.access_key, user.secret_key)
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(MiB))
    server.stop()
    assert rgw.secret_key not in server.log()


def test_credentials_in_the_blobs_url_are_refused(start_server: Any, rgw: Any) -> None:
    url = rgw.blobs_url("somebucket").replace("s3://", f"s3://{rgw.access_key}:{rgw.secret_key}@")
    with pytest.raises(RuntimeError) as failed:
        start_server("--blobs", url)
    assert "credentials do not belong in the URL" in str(failed.value)
    assert rgw.secret_key not in str(failed.value)


def test_gets_racing_overwrites_answer_one_whole_version_never_a_5xx(setup: Any) -> None:
    _server, _user, s3 = setup
    bucket = new_bucket(s3)
    payloads = [os.urandom(MiB) for _ in range(VERSIONS)]
    bodies = {hashlib.md5(b).hexdigest(): b for b in payloads}
    s3.put_object(Bucket=bucket, Key="k", Body=payloads[0])
    outcomes = race(lambda n: s3.put_object(Bucket=bucket, Key="k", Body=payloads[n % VERSIONS]),
                    lambda: s3_get(s3, bucket, "k"))
    assert {status for status, *_ in outcomes} == {200}
    assert all(bodies[etag] == body for _, etag, body, _ in outcomes)
