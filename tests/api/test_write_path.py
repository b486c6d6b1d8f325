"""The write path end to end, on servers of their own: a crash mid-upload leaves no partial object
(and `kosha gc` clears its temporary file), a large upload streams in bounded memory, and the
lifecycle worker expires what its rules say when time moves forward."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

from .kos_helpers import (API, create_bucket, expect, get_bucket, list_objects, metadata, post,
                          put_object, temp_files)

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
BOUNDARY = "kosha-write-path-test"
DAY = 86400


def operator(srv: Any) -> Any:
    return srv.login(srv.root_access_key, srv.root_secret_key, account_id="000000000000", admin=True)


def kosha_cli(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run `python -m kosha ...` on a stopped server's data directory; its JSON answer."""
    done = subprocess.run([sys.executable, "-m", "kosha", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


def multipart_body(key: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{key}"\r\n'
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    yield from chunks
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def stream_upload(client: httpx.Client, bucket: str, key: str, chunks: Iterator[bytes]) -> httpx.Response:
    return client.put(f"{API}/buckets/{bucket}/objects", content=multipart_body(key, chunks),
                      headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, timeout=300)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


# -- crash safety -----------------------------------------------------------------------------

def test_kill_9_mid_upload_leaves_no_partial_object_and_gc_clears_the_temp_file(start_server: Any) -> None:
    srv = start_server()
    client = operator(srv)
    bucket = create_bucket(client)["bucketName"]
    put_object(client, bucket, "other", b"unaffected")
    stop = threading.Event()

    def slow_chunks() -> Iterator[bytes]:
        for _ in range(1024):          # would be 1 GiB; the server dies long before
            if stop.is_set():
                return
            yield b"\xab" * MiB
            time.sleep(0.005)

    errors: list[BaseException] = []

    def send() -> None:
        try:
            stream_upload(client, bucket, "big.bin", slow_chunks())
        except BaseException as exc:   # the connection dies with the server
            errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while not any(p.stat().st_size > 16 * MiB for p in temp_files(srv.data_dir)):
        assert time.monotonic() < deadline, "the upload never reached the blob store"
        time.sleep(0.02)
    srv.kill()
    stop.set()
    sender.join(timeout=30)
    assert errors, "the upload should have failed with the server"
    leftovers = temp_files(srv.data_dir)
    assert leftovers

    srv.start()
    client.relogin()
    assert metadata(client, bucket, "big.bin").status_code == 404
    assert [o["key"] for o in list_objects(client, bucket)["objects"]] == ["other"]
    assert get_bucket(client, bucket)["usedCapacity"] == len(b"unaffected")
    srv.stop()

    result = kosha_cli("gc", "--data", str(srv.data_dir), env={"KOSHA_CLOCK_OFFSET": str(2 * 3600)})
    assert result["temp_files_removed"] >= len(leftovers)
    assert temp_files(srv.data_dir) == []
    srv.start()
    client.relogin()
    assert post(client, bucket, "download", {"objectkey": "other"},
                headers={"Accept": "application/octet-stream"}).content == b"unaffected"


# -- memory -----------------------------------------------------------------------------------

def test_a_256_mib_upload_streams_in_bounded_memory(start_server: Any) -> None:
    srv = start_server()
    assert srv.process is not None
    client = operator(srv)
    bucket = create_bucket(client)["bucketName"]
    chunk = bytes(range(256)) * 4096
    expect(stream_upload(client, bucket, "warm-up", iter([chunk] * 8)), 201)
    baseline = rss_bytes(srv.process.pid)
    peak = baseline
    done = threading.Event()
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(stream_upload(client, bucket, "big.bin", iter([chunk] * 256)))
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    while not done.wait(0.01):
        peak = max(peak, rss_bytes(srv.process.pid))
    sender.join()
    expect(answers[0], 201)
    growth = peak - baseline
    assert growth < 64 * MiB, f"server RSS grew by {growth / MiB:.1f} MiB"
    md5 = hashlib.md5()
    for _ in range(256):
        md5.update(chunk)
    meta = expect(metadata(client, bucket, "big.bin"), 200)
    assert (meta["size_bytes"], meta["etag"]) == (256 * MiB, f'"{md5.hexdigest()}"')


# -- lifecycle with time moved forward --------------------------------------------------------

def _usage(client: Any, bucket: str) -> int:
    return int(get_bucket(client, bucket)["usedCapacity"])


def test_lifecycle_run_with_the_clock_moved_forward(start_server: Any) -> None:
    srv = start_server()
    client = operator(srv)
    plain = create_bucket(client)["bucketName"]
    versioned = create_bucket(client, versioning=True)["bucketName"]
    for key, size in (("logs/a", 10), ("logs/b", 20), ("keep/c", 30), ("logsx", 40)):
        put_object(client, plain, key, b"p" * size)
    put_object(client, versioned, "v", b"1" * 100)
    put_object(client, versioned, "v", b"2" * 7)       # the 100 bytes become noncurrent now
    rules = f"{API}/buckets/{plain}/lifecycle-rules"
    expect(client.post(rules, json={"name": "logs", "prefix": "logs/", "expiration_days": 30}), 201)
    expect(client.post(rules, json={"name": "off", "prefix": "keep/", "expiration_days": 1, "enabled": False}), 201)
    expect(client.post(f"{API}/buckets/{versioned}/lifecycle-rules",
                       json={"name": "all", "expiration_days": 30, "noncurrent_days": 10,
                             "delete_incomplete_mpu": 7}), 201)
    s3 = _s3(srv)
    upload_id = s3.create_multipart_upload(Bucket=versioned, Key="unfinished")["UploadId"]
    s3.upload_part(Bucket=versioned, Key="unfinished", UploadId=upload_id, PartNumber=1, Body=b"x" * 1000)
    srv.stop()

    soon = (datetime.now(timezone.utc) + timedelta(days=5)).isoformat()
    assert kosha_cli("lifecycle", "run", "--data", str(srv.data_dir), "--now", soon)["expired"] == 0
    later = (datetime.now(timezone.utc) + timedelta(days=40)).isoformat()
    result = kosha_cli("lifecycle", "run", "--data", str(srv.data_dir), "--now", later)
    assert result == {"rules": 2, "expired": 3, "noncurrent_removed": 1, "delete_markers_removed": 0,
                      "uploads_aborted": 1, "transitioned": 0}
    again = kosha_cli("lifecycle", "run", "--data", str(srv.data_dir), "--now", later)
    assert (again["expired"], again["noncurrent_removed"], again["uploads_aborted"]) == (0, 0, 0)

    srv.start()
    client.relogin()
    assert sorted(o["key"] for o in list_objects(client, plain)["objects"]) == ["keep/", "logsx"]
    assert _usage(client, plain) == 70
    assert metadata(client, versioned, "v").status_code == 404          # a delete marker now
    assert _usage(client, versioned) == 7                               # the expired version stays
    assert _s3(srv).list_multipart_uploads(Bucket=versioned).get("Uploads", []) == []


def test_the_background_worker_applies_rules_on_its_interval(start_server: Any) -> None:
    first = start_server()
    client = operator(first)
    bucket = create_bucket(client)["bucketName"]
    put_object(client, bucket, "old", b"o")
    expect(client.post(f"{API}/buckets/{bucket}/lifecycle-rules",
                       json={"name": "day", "expiration_days": 1}), 201)
    first.stop()
    later = start_server("--lifecycle-interval", "1", data_dir=first.data_dir,
                         env={"KOSHA_CLOCK_OFFSET": str(2 * DAY)})
    client = operator(later)
    put_object(client, bucket, "new", b"n")     # written "two days from now": not yet expired
    deadline = time.monotonic() + 20
    while metadata(client, bucket, "old").status_code != 404:
        assert time.monotonic() < deadline, "the background worker never expired the object"
        time.sleep(0.2)
    assert [o["key"] for o in list_objects(client, bucket)["objects"]] == ["new"]


def _s3(srv: Any) -> Any:
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=srv.s3_url, region_name="In-Bangalore-1",
                        aws_access_key_id=srv.root_access_key, aws_secret_access_key=srv.root_secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
