"""Full disks and other storage faults on the KOS API: a full disk answers 507 and stores
nothing, deletes still free space at 0 bytes free, a read-only or vanished data directory
answers 503 with Retry-After, and /readyz reports each check; the server recovers by itself.

The data directory lives on an 8 MiB tmpfs (tests/disk_faults.py) filled up by the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from disk_faults import RESERVE, disk, fill, remount, small_disk  # noqa: F401 (disk: a fixture)
from tests.api.kos_helpers import API, create_bucket, download, expect, post, upload

BIG = os.urandom(300 * 1024)     # over the inline threshold: a blob file
SMALL = b"small object"          # inline in the metadata row


@pytest.fixture
def served(disk: Path, start_server: Callable[..., Any]) -> Iterator[tuple[Any, Any, str]]:
    """A server with its data on the small disk, an account admin and a bucket of theirs."""
    srv = start_server("--storage-reserve", str(RESERVE), data_dir=disk / "data")
    root = srv.operator()
    client = srv.new_user(root, srv.new_account(root), admin=True)
    bucket = create_bucket(client)["name"]
    yield srv, client, bucket
    client.close()
    root.close()


def _keys(client: Any, bucket: str) -> list[str]:
    body = expect(client.get(f"{API}/buckets/{bucket}/objects"), 200)
    return [o["key"] for o in body["objects"]]


def _tmp_files(srv: Any) -> list[str]:
    return [n for n in os.listdir(Path(srv.data_dir) / "blobs" / "tmp") if not n.startswith("probe-")]


def test_an_upload_on_a_full_disk_answers_507_and_stores_nothing(served: Any, disk: Path) -> None:
    srv, client, bucket = served
    fill(disk)
    response = upload(client, bucket, {"big.bin": BIG})
    assert response.status_code == 507, response.text
    assert "full" in response.json()["message"]
    assert "big.bin" not in _keys(client, bucket)
    assert _tmp_files(srv) == []


def test_a_small_upload_after_the_disk_filled_answers_507(served: Any, disk: Path) -> None:
    _srv, client, bucket = served
    fill(disk)
    assert upload(client, bucket, {"big.bin": BIG}).status_code == 507
    response = upload(client, bucket, {"small.txt": SMALL})
    assert response.status_code == 507, response.text
    assert "small.txt" not in _keys(client, bucket)


def test_a_delete_frees_space_at_zero_bytes_free(served: Any, disk: Path) -> None:
    srv, client, bucket = served
    expect(upload(client, bucket, {"big.bin": BIG, "small.txt": SMALL}), 201)
    fill(disk)
    for key in ("big.bin", "small.txt"):
        response = post(client, bucket, "delete", {"objectkey": key})
        assert response.status_code == 200, response.text
    assert _keys(client, bucket) == []
    blobs = Path(srv.data_dir) / "blobs"
    assert not [f for d in blobs.iterdir() if d.name != "tmp" for f in d.iterdir()]


def test_writes_work_again_once_space_is_freed(served: Any, disk: Path) -> None:
    _srv, client, bucket = served
    filler = fill(disk)
    assert upload(client, bucket, {"big.bin": BIG}).status_code == 507
    filler.unlink()
    expect(upload(client, bucket, {"big.bin": BIG}), 201)
    assert download(client, bucket, "big.bin").content == BIG


def test_the_reserve_is_taken_back_once_space_is_freed(served: Any, disk: Path) -> None:
    srv, client, bucket = served
    filler = fill(disk)
    assert upload(client, bucket, {"big.bin": BIG}).status_code == 507
    assert os.path.getsize(Path(srv.data_dir) / "reserve") == 0
    filler.unlink()
    expect(upload(client, bucket, {"again.bin": BIG}), 201)
    assert os.stat(Path(srv.data_dir) / "reserve").st_blocks * 512 >= RESERVE


def test_bucket_creation_at_zero_bytes_free_never_answers_500(served: Any, disk: Path) -> None:
    _srv, client, _bucket = served
    fill(disk)
    assert upload(client, _bucket, {"big.bin": BIG}).status_code == 507   # the reserve is given back
    fill(disk)   # and taken too: 0 bytes free, no reserve left (SQLite may still fit it in its WAL)
    response = client.post(f"{API}/buckets", json={"name": f"full-{os.urandom(4).hex()}"})
    assert response.status_code in (201, 507), response.text


def test_readyz_reports_each_check_when_healthy(served: Any) -> None:
    srv, _client, _bucket = served
    response = srv.http().get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok", "blobStore": "ok", "freeSpace": "ok"}


def test_readyz_answers_503_naming_free_space_on_a_full_disk(served: Any, disk: Path) -> None:
    srv, client, bucket = served
    filler = fill(disk)
    upload(client, bucket, {"big.bin": BIG})
    response = srv.http().get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    checks = response.json()["checks"]
    assert checks["freeSpace"]["status"] == "failed"
    assert checks["database"]["status"] == "ok"
    filler.unlink()
    assert srv.http().get("/readyz").status_code == 200


def test_a_read_only_data_directory_answers_503_then_recovers(
        tmp_path: Path, start_server: Callable[..., Any]) -> None:
    # The blobs get a filesystem of their own: one the database holds open cannot turn read-only.
    blobs = tmp_path / "data" / "blobs"
    with small_disk(blobs):
        srv = start_server(data_dir=tmp_path / "data")
        root = srv.operator()
        client = srv.new_user(root, srv.new_account(root), admin=True)
        bucket = create_bucket(client)["name"]
        remount(blobs, "ro")
        try:
            response = upload(client, bucket, {"big.bin": BIG})
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) > 0
            assert "read-only" in response.json()["message"]
            ready = srv.http().get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["blobStore"]["status"] == "failed"
        finally:
            remount(blobs, "rw")
        expect(upload(client, bucket, {"big.bin": BIG}), 201)
        assert srv.http().get("/readyz").status_code == 200
        client.close()
        root.close()
        srv.stop()


def test_a_vanished_blob_directory_answers_503_then_recovers(served: Any) -> None:
    srv, client, bucket = served
    blobs = Path(srv.data_dir) / "blobs"
    blobs.rename(blobs.with_name("blobs.away"))
    try:
        response = upload(client, bucket, {"big.bin": BIG})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
    finally:
        blobs.with_name("blobs.away").rename(blobs)
    expect(upload(client, bucket, {"big.bin": BIG}), 201)


def test_readyz_needs_no_credentials_and_is_in_openapi(served: Any) -> None:
    srv, _client, _bucket = served
    assert srv.http().get("/readyz").status_code == 200
    operation = srv.http().get("/openapi.json").json()["paths"]["/readyz"]["get"]
    assert operation["x-kosha-extension"] is True
