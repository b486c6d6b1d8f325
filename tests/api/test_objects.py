"""KOS REST objects: upload, list, download, metadata, move/copy, rename, delete, over HTTP."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import httpx
import pytest

from .kos_helpers import (API, blob_bytes, create_bucket, download, expect, list_objects, metadata,
                          post, put_object, upload)


@pytest.fixture
def bucket(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


# -- upload -----------------------------------------------------------------------------------

def test_multipart_upload_with_prefix_and_several_files(account: Any, bucket: str) -> None:
    body = expect(upload(account, bucket, {"a.txt": b"alpha", "b.txt": b"beta"}, prefix="docs/"), 201)
    assert body["objectKey"] == "docs/a.txt" and body["objectKeys"] == ["docs/a.txt", "docs/b.txt"]
    assert "message" in body
    one = expect(upload(account, bucket, {"c.txt": b"gamma"}), 201)
    assert one == {"message": "File uploaded successfully", "objectKey": "c.txt"}
    assert download(account, bucket, "docs/b.txt").content == b"beta"


def test_upload_keeps_the_parts_content_type_or_guesses_it(account: Any, bucket: str) -> None:
    files = [("file", ("page.html", b"<p>", "text/html")), ("file", ("pic.png", b"\x89PNG", None)),
             ("file", ("blob", b"?", "application/octet-stream"))]
    expect(account.put(f"{API}/buckets/{bucket}/objects", files=files), 201)
    types = {k: expect(metadata(account, bucket, k), 200)["contentType"] for k in ("page.html", "pic.png", "blob")}
    assert types == {"page.html": "text/html", "pic.png": "image/png", "blob": "application/octet-stream"}
    assert download(account, bucket, "page.html").headers["content-type"] == "text/html"


def test_upload_refuses_a_prefix_after_the_files_and_forms_without_files(account: Any, bucket: str) -> None:
    late = [("file", ("first.txt", b"1", "text/plain")), ("prefix", (None, b"late/"))]
    body = expect(account.put(f"{API}/buckets/{bucket}/objects", files=late), 400)
    assert "prefix" in body["message"]
    assert account.put(f"{API}/buckets/{bucket}/objects",
                       files=[("prefix", (None, b"p/"))]).status_code == 400
    nameless = [("file", ("", b"data", "text/plain"))]
    assert account.put(f"{API}/buckets/{bucket}/objects", files=nameless).status_code == 400
    undecodable = [("prefix", (None, b"\xff/")), ("file", ("f.txt", b"1", "text/plain"))]
    assert account.put(f"{API}/buckets/{bucket}/objects", files=undecodable).status_code == 400


def test_upload_refuses_malformed_multipart(account: Any, bucket: str) -> None:
    url = f"{API}/buckets/{bucket}/objects"
    truncated = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="t.bin"\r\n\r\nhalf'
    r = account.put(url, content=truncated, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400
    assert account.put(url, content=b"x", headers={"Content-Type": "multipart/form-data"}).status_code == 400
    assert metadata(account, bucket, "t.bin").status_code == 404


def test_upload_to_an_unknown_bucket_is_404(account: Any) -> None:
    assert upload(account, "no-such-bucket-here", {"a": b"1"}).status_code == 404


@pytest.mark.parametrize("key", ["unicode-ключ-日本-😀.txt", "with spaces/and  two.txt", "../../etc/passwd",
                                 "a/../b/./c", "x" * 1024, "é" * 512])
def test_any_utf8_key_up_to_1024_bytes(account: Any, bucket: str, key: str) -> None:
    data = key.encode()[:100] + b"!"
    assert expect(upload(account, bucket, {key: data}), 201)["objectKey"] == key
    assert download(account, bucket, key).content == data
    meta = expect(metadata(account, bucket, key), 200)
    assert (meta["key"], meta["size_bytes"]) == (key, len(data))
    expect(post(account, bucket, "delete", {"objectkey": key}), 200)


def test_a_key_of_1025_bytes_is_refused(account: Any, bucket: str) -> None:
    assert upload(account, bucket, {"x" * 1025: b"1"}).status_code == 400
    assert account.put(f"{API}/buckets/{bucket}/objects", json={"prefix": "y" * 1025}).status_code == 400
    assert upload(account, bucket, {"x" * 24: b"1"}, prefix="p" * 1001).status_code == 400


# -- JSON upload and pre-signed URLs ----------------------------------------------------------

def test_json_upload_answers_a_presigned_put_that_works(account: Any, bucket: str, server: Any) -> None:
    body = expect(account.put(f"{API}/buckets/{bucket}/objects", json={"prefix": "up/é x.bin"}), 201)
    assert body["objectKey"] == "up/é x.bin" and body["message"]
    url = body["uploadPreSignedUrl"]
    assert url.startswith(f"{server.s3_url}/{bucket}/") and "X-Amz-Signature=" in url
    assert httpx.put(url, content=b"through the S3 port").status_code == 200
    assert download(account, bucket, "up/é x.bin").content == b"through the S3 port"


def test_json_download_answers_a_presigned_get_that_works(account: Any, bucket: str) -> None:
    put_object(account, bucket, "doc/ünï code.txt", b"fetch me")
    body = expect(post(account, bucket, "download", {"objectkey": "doc/ünï code.txt"},
                       headers={"Accept": "application/json"}), 200)
    assert body["objectKey"] == "doc/ünï code.txt" and body["message"]
    response = httpx.get(body["preSignedUrl"])
    assert (response.status_code, response.content) == (200, b"fetch me")
    assert post(account, bucket, "download", {"objectkey": "missing"}).status_code == 404


def test_json_upload_needs_a_key_and_write_access(account: Any, bucket: str, new_account: Any) -> None:
    assert account.put(f"{API}/buckets/{bucket}/objects", json={}).status_code == 400
    assert account.put(f"{API}/buckets/{bucket}/objects", json={"prefix": 5}).status_code == 422
    assert new_account().put(f"{API}/buckets/{bucket}/objects", json={"prefix": "k"}).status_code == 404


def test_presigned_urls_for_a_caller_without_an_access_key(start_server: Any) -> None:
    """Dev auth (no access key in the request): the URL is signed with a key of that user."""
    dev = start_server("--insecure-dev-auth")
    with dev.http() as root:
        session = dev.activate(dev.root_access_key, dev.root_secret_key)["sessionToken"]
        root.headers["Authorization"] = f"Bearer {session}"
        account_id = expect(root.post("/internal/kos/v1/accounts", json={"name": "dev"}), 201)["account_id"]
        user = expect(root.post(f"/internal/kos/v1/accounts/{account_id}/users",
                                json={"name": "dev-admin", "admin": True}), 201)
    with dev.http(headers={"K-Customer-ID": user["kcid"]}) as client:
        name = create_bucket(client)["bucketName"]
        url = expect(client.put(f"{API}/buckets/{name}/objects", json={"prefix": "k"}), 201)["uploadPreSignedUrl"]
        assert httpx.put(url, content=b"dev").status_code == 200
        url = expect(post(client, name, "download", {"objectkey": "k"}), 200)["preSignedUrl"]
        assert httpx.get(url).content == b"dev"


# -- list -------------------------------------------------------------------------------------

def test_list_shows_immediate_children_with_folders(account: Any, bucket: str) -> None:
    expect(upload(account, bucket, {"a/b/c.txt": b"1", "a/d.txt": b"22", "e.txt": b"333", "a/b/f": b""}), 201)
    top = list_objects(account, bucket)
    assert top["prefix"] == "" and top["isTruncated"] is False and top["nextContinuationToken"] is None
    assert [(o["key"], o["isFolder"]) for o in top["objects"]] == [("a/", True), ("e.txt", False)]
    entry = top["objects"][1]
    assert (entry["size"], entry["etag"]) == (3, md5(b"333")) and entry["lastModified"].endswith("Z")
    inner = list_objects(account, bucket, "a/")
    assert [(o["key"], o["isFolder"], o["size"]) for o in inner["objects"]] == \
        [("a/b/", True, 0), ("a/d.txt", False, 2)]
    assert [o["key"] for o in list_objects(account, bucket, "a/b/")["objects"]] == ["a/b/c.txt", "a/b/f"]
    assert list_objects(account, bucket, "zzz/")["objects"] == []


def test_list_pages_past_1000_entries(account: Any, bucket: str) -> None:
    keys = [f"many/{i:05d}" for i in range(1003)] + ["many/sub/x", "many/sub/y"]
    for start in range(0, len(keys), 250):
        expect(upload(account, bucket, [(k, b"") for k in keys[start:start + 250]]), 201)
    first = list_objects(account, bucket, "many/")
    assert len(first["objects"]) == 1000 and first["isTruncated"] is True
    second = list_objects(account, bucket, "many/", continuation_token=first["nextContinuationToken"])
    assert second["isTruncated"] is False and second["nextContinuationToken"] is None
    seen = [o["key"] for o in first["objects"] + second["objects"]]
    assert seen == sorted(keys[:1003]) + ["many/sub/"]
    small, walked, token = None, [], None
    while small is None or small["isTruncated"]:
        small = list_objects(account, bucket, "many/", max_keys=400,
                             **({"continuation_token": token} if token else {}))
        walked += [o["key"] for o in small["objects"]]
        token = small["nextContinuationToken"]
    assert walked == seen


def test_list_refuses_bad_paging(account: Any, bucket: str) -> None:
    url = f"{API}/buckets/{bucket}/objects"
    assert account.get(url, params={"max_keys": 0}).status_code == 400
    assert account.get(url, params={"max_keys": 1001}).status_code == 400
    assert account.get(url, params={"continuation_token": "%%%"}).status_code == 400


# -- download and metadata --------------------------------------------------------------------

def test_download_streams_bytes_with_headers_and_ranges(account: Any, bucket: str) -> None:
    data = bytes(range(256)) * 4096   # 1 MiB, not inline
    put_object(account, bucket, "r.bin", data)
    whole = download(account, bucket, "r.bin")
    assert whole.status_code == 200 and whole.content == data
    h = whole.headers
    assert (h["content-length"], h["etag"], h["accept-ranges"]) == (str(len(data)), md5(data), "bytes")
    assert h["last-modified"].endswith("GMT")
    part = download(account, bucket, "r.bin", Range="bytes=100-199")
    assert (part.status_code, part.content, part.headers["content-range"]) == \
        (206, data[100:200], f"bytes 100-199/{len(data)}")
    tail = download(account, bucket, "r.bin", Range="bytes=-10")
    assert (tail.status_code, tail.content) == (206, data[-10:])
    rest = download(account, bucket, "r.bin", Range=f"bytes={len(data) - 5}-")
    assert (rest.status_code, rest.content) == (206, data[-5:])
    assert download(account, bucket, "r.bin", Range="bytes=0-1,5-6").content == data
    bad = download(account, bucket, "r.bin", Range=f"bytes={len(data)}-")
    assert (bad.status_code, bad.headers["content-range"]) == (416, f"bytes */{len(data)}")


def test_download_of_a_small_inline_object_with_range(account: Any, bucket: str) -> None:
    put_object(account, bucket, "s.txt", b"hello world")
    assert download(account, bucket, "s.txt", Range="bytes=6-").content == b"world"
    assert download(account, bucket, "missing.txt").status_code == 404


def test_metadata_answers_the_published_shape(account: Any, bucket: str) -> None:
    put_object(account, bucket, "m/k.bin", b"12345")
    body = expect(metadata(account, bucket, "m/k.bin"), 200)
    assert {"key", "size_bytes", "storage_class", "lastModified", "contentType", "etag"} <= set(body)
    assert (body["key"], body["size_bytes"], body["storage_class"], body["etag"]) == \
        ("m/k.bin", 5, "STANDARD", md5(b"12345"))
    assert metadata(account, bucket, "m/none").status_code == 404
    assert post(account, bucket, "metadata", {}).status_code == 400
    assert post(account, bucket, "metadata", {"objectkey": ["x"]}).status_code == 422


# -- move, copy, rename, delete ---------------------------------------------------------------

def test_move_copy_and_rename(account: Any, bucket: str) -> None:
    put_object(account, bucket, "src", b"payload")
    body = expect(post(account, bucket, "move", {"sourceKey": "src", "destinationKey": "cp", "action": "copy"}), 200)
    assert (body["sourceKey"], body["destinationKey"]) == ("src", "cp") and body["message"]
    assert download(account, bucket, "src").content == download(account, bucket, "cp").content == b"payload"
    expect(post(account, bucket, "move", {"sourceKey": "cp", "destinationKey": "dir/mv", "action": "move"}), 200)
    assert metadata(account, bucket, "cp").status_code == 404
    body = expect(post(account, bucket, "rename", {"oldKey": "dir/mv", "newKey": "renamed"}), 200)
    assert (body["oldKey"], body["newKey"]) == ("dir/mv", "renamed") and body["message"]
    assert metadata(account, bucket, "dir/mv").status_code == 404
    assert download(account, bucket, "renamed").content == b"payload"


def test_move_and_rename_errors(account: Any, bucket: str) -> None:
    put_object(account, bucket, "s", b"1")
    assert post(account, bucket, "move", {"sourceKey": "nope", "destinationKey": "d"}).status_code == 404
    assert post(account, bucket, "move", {"sourceKey": "s", "destinationKey": "d", "action": "zip"}).status_code == 422
    assert post(account, bucket, "move", {"sourceKey": "s"}).status_code == 400
    assert post(account, bucket, "rename", {"oldKey": "nope", "newKey": "d"}).status_code == 404
    assert post(account, bucket, "rename", {"newKey": "d"}).status_code == 400
    assert post(account, bucket, "rename", {"oldKey": "s", "newKey": "n" * 1025}).status_code == 400
    assert download(account, bucket, "s").content == b"1"


def test_copy_move_and_rename_of_a_large_object_share_its_bytes(account: Any, bucket: str, server: Any) -> None:
    data = b"\x5a" * (64 * 1024 * 1024)
    put_object(account, bucket, "big", data)
    before = blob_bytes(server.data_dir)
    started = time.monotonic()
    expect(post(account, bucket, "move", {"sourceKey": "big", "destinationKey": "big-copy", "action": "copy"}), 200)
    expect(post(account, bucket, "move", {"sourceKey": "big-copy", "destinationKey": "big-moved"}), 200)
    expect(post(account, bucket, "rename", {"oldKey": "big-moved", "newKey": "big-renamed"}), 200)
    assert time.monotonic() - started < 2.0
    assert blob_bytes(server.data_dir) == before
    assert expect(metadata(account, bucket, "big-renamed"), 200)["etag"] == md5(data)
    expect(post(account, bucket, "delete", {"objectkey": "big"}), 200)
    assert hashlib.md5(download(account, bucket, "big-renamed").content).hexdigest() == hashlib.md5(data).hexdigest()


def test_delete(account: Any, bucket: str) -> None:
    put_object(account, bucket, "gone", b"1")
    assert expect(post(account, bucket, "delete", {"objectkey": "gone"}), 200) == \
        {"message": "File deleted successfully", "objectKey": "gone"}
    assert post(account, bucket, "delete", {"objectkey": "gone"}).status_code == 404
    assert post(account, bucket, "delete", {"objectKey": "gone"}).status_code == 404
    assert post(account, bucket, "delete", {}).status_code == 400


def test_delete_in_a_versioned_bucket_hides_the_object(account: Any) -> None:
    name = create_bucket(account, versioning=True)["bucketName"]
    put_object(account, name, "v", b"1")
    expect(post(account, name, "delete", {"objectkey": "v"}), 200)
    assert metadata(account, name, "v").status_code == 404
    assert list_objects(account, name)["objects"] == []
    assert post(account, name, "delete", {"objectkey": "v"}).status_code == 404


# -- tenancy ----------------------------------------------------------------------------------

def test_another_account_gets_404_for_every_object_operation(account: Any, bucket: str, new_account: Any) -> None:
    put_object(account, bucket, "secret", b"mine")
    other = new_account()
    krn = expect(account.get(f"{API}/buckets/{bucket}"), 200)["krnid"]
    for ref in (bucket, krn):
        assert upload(other, ref, {"x": b"1"}).status_code == 404
        assert other.get(f"{API}/buckets/{ref}/objects").status_code == 404
        for op, body in [("download", {"objectkey": "secret"}), ("metadata", {"objectkey": "secret"}),
                         ("move", {"sourceKey": "secret", "destinationKey": "x"}),
                         ("rename", {"oldKey": "secret", "newKey": "x"}), ("delete", {"objectkey": "secret"})]:
            assert post(other, ref, op, body).status_code == 404, op
    assert download(account, bucket, "secret").content == b"mine"
    assert [o["key"] for o in list_objects(account, bucket)["objects"]] == ["secret"]


def test_a_member_without_policies_is_forbidden(account: Any, bucket: str, member: Any) -> None:
    put_object(account, bucket, "k", b"1")
    assert member.get(f"{API}/buckets/{bucket}/objects").status_code == 403
    assert download(member, bucket, "k").status_code == 403
