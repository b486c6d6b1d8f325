"""KOS REST object versions (Kosha's extension): listing, restore, versionId, share-link expiry."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .kos_helpers import (API, blob_bytes, create_bucket, download, expect, metadata, post,
                          put_object)

KEY = "notes/plan.txt"


@pytest.fixture
def bucket(account: Any) -> str:
    return str(create_bucket(account, versioning=True)["bucketName"])


def versions(client: Any, bucket: str, key: str = KEY, **params: Any) -> Any:
    return client.get(f"{API}/buckets/{bucket}/objects/versions", params={"key": key, **params})


def write_versions(client: Any, bucket: str, *contents: bytes) -> list[str]:
    """Write each content as a new version of KEY; their version ids, oldest first."""
    ids = []
    for data in contents:
        put_object(client, bucket, KEY, data)
        ids.append(expect(metadata(client, bucket, KEY), 200)["versionId"])
    return ids


def test_versions_are_listed_newest_first_for_that_key_only(account: Any, bucket: str) -> None:
    ids = write_versions(account, bucket, b"one", b"two", b"three")
    put_object(account, bucket, KEY + ".bak", b"other key")
    body = expect(versions(account, bucket), 200)
    assert body["objectKey"] == KEY and body["isTruncated"] is False
    assert body["nextContinuationToken"] is None
    assert [v["versionId"] for v in body["versions"]] == ids[::-1]
    assert [v["isLatest"] for v in body["versions"]] == [True, False, False]
    newest = body["versions"][0]
    assert newest["size_bytes"] == 5 and newest["isDeleteMarker"] is False
    assert newest["etag"].startswith('"') and newest["lastModified"].endswith("Z")


def test_versions_page_with_a_continuation_token(account: Any, bucket: str) -> None:
    ids = write_versions(account, bucket, b"1", b"2", b"3")
    first = expect(versions(account, bucket, max_keys=2), 200)
    assert first["isTruncated"] is True
    second = expect(versions(account, bucket, max_keys=2,
                             continuation_token=first["nextContinuationToken"]), 200)
    assert [v["versionId"] for v in first["versions"] + second["versions"]] == ids[::-1]
    assert second["isTruncated"] is False


def test_a_specific_version_is_downloaded_and_described(account: Any, bucket: str) -> None:
    old, _new = write_versions(account, bucket, b"first words", b"second")
    got = post(account, bucket, "download", {"objectkey": KEY, "versionId": old},
               headers={"Accept": "application/octet-stream"})
    assert (got.status_code, got.content) == (200, b"first words")
    described = expect(post(account, bucket, "metadata", {"objectkey": KEY, "versionId": old}), 200)
    assert described["versionId"] == old and described["size_bytes"] == 11
    assert post(account, bucket, "metadata", {"objectkey": KEY, "versionId": "nope"}).status_code == 404
    assert download(account, bucket, KEY).content == b"second"


def test_restore_makes_a_noncurrent_version_current_without_copying_bytes(
        account: Any, bucket: str, server: Any) -> None:
    old_bytes = os.urandom(300_000)
    old, new = write_versions(account, bucket, old_bytes, os.urandom(200_000))
    stored = blob_bytes(server.data_dir)
    body = expect(post(account, bucket, "restore", {"objectkey": KEY, "versionId": old}), 200)
    assert body["objectKey"] == KEY and body["versionId"] not in (old, new) and body["message"]
    assert download(account, bucket, KEY).content == old_bytes
    assert blob_bytes(server.data_dir) == stored
    listed = expect(versions(account, bucket), 200)["versions"]
    assert [v["versionId"] for v in listed] == [body["versionId"], new, old]


def test_restoring_the_current_version_changes_nothing(account: Any, bucket: str) -> None:
    (only,) = write_versions(account, bucket, b"just me")
    body = expect(post(account, bucket, "restore", {"objectkey": KEY, "versionId": only}), 200)
    assert body["versionId"] == only
    assert len(expect(versions(account, bucket), 200)["versions"]) == 1


def test_restore_errors(account: Any, bucket: str) -> None:
    write_versions(account, bucket, b"x")
    expect(post(account, bucket, "delete", {"objectkey": KEY}), 200)
    marker = expect(versions(account, bucket), 200)["versions"][0]
    assert marker["isDeleteMarker"] is True and marker["etag"] is None
    restore = {"objectkey": KEY, "versionId": marker["versionId"]}
    assert post(account, bucket, "restore", restore).status_code == 422
    assert post(account, bucket, "restore", {"objectkey": KEY, "versionId": "nope"}).status_code == 404
    assert post(account, bucket, "restore", {"objectkey": KEY}).status_code == 400
    assert post(account, bucket, "restore", {"objectkey": KEY, "versionId": 3}).status_code == 422


def test_deleting_a_version_is_permanent_and_a_marker_can_be_undone(account: Any, bucket: str) -> None:
    first, second = write_versions(account, bucket, b"first", b"second")
    expect(post(account, bucket, "delete", {"objectkey": KEY, "versionId": second}), 200)
    assert [v["versionId"] for v in expect(versions(account, bucket), 200)["versions"]] == [first]
    assert download(account, bucket, KEY).content == b"first"
    expect(post(account, bucket, "delete", {"objectkey": KEY}), 200)
    assert download(account, bucket, KEY).status_code == 404
    marker = expect(versions(account, bucket), 200)["versions"][0]["versionId"]
    expect(post(account, bucket, "delete", {"objectkey": KEY, "versionId": marker}), 200)
    assert download(account, bucket, KEY).content == b"first"
    assert post(account, bucket, "delete", {"objectkey": KEY, "versionId": marker}).status_code == 404


def test_a_share_link_honours_expires_in(account: Any, bucket: str) -> None:
    old, _new = write_versions(account, bucket, b"shared v1", b"shared v2")
    body = expect(post(account, bucket, "download", {"objectkey": KEY, "expiresIn": 90},
                       headers={"Accept": "application/json"}), 200)
    query = parse_qs(urlsplit(body["preSignedUrl"]).query)
    assert query["X-Amz-Expires"] == ["90"]
    assert httpx.get(body["preSignedUrl"]).content == b"shared v2"
    pinned = expect(post(account, bucket, "download", {"objectkey": KEY, "versionId": old,
                                                       "expiresIn": 604800}), 200)
    assert parse_qs(urlsplit(pinned["preSignedUrl"]).query)["X-Amz-Expires"] == ["604800"]
    assert httpx.get(pinned["preSignedUrl"]).content == b"shared v1"


@pytest.mark.parametrize("expires_in", [0, -5, 604801, "60", True])
def test_expires_in_outside_its_range_is_422(account: Any, bucket: str, expires_in: Any) -> None:
    write_versions(account, bucket, b"x")
    assert post(account, bucket, "download", {"objectkey": KEY, "expiresIn": expires_in}).status_code == 422


def test_versions_page_size_is_bounded(account: Any, bucket: str) -> None:
    assert versions(account, bucket, max_keys=0).status_code == 400


def test_another_accounts_versions_are_404(account: Any, bucket: str, new_account: Any) -> None:
    (only,) = write_versions(account, bucket, b"private")
    stranger = new_account()
    assert versions(stranger, bucket).status_code == 404
    assert post(stranger, bucket, "restore", {"objectkey": KEY, "versionId": only}).status_code == 404
    assert post(stranger, bucket, "delete", {"objectkey": KEY, "versionId": only}).status_code == 404


def test_a_member_without_a_policy_is_403(account: Any, member: Any, bucket: str) -> None:
    (only,) = write_versions(account, bucket, b"private")
    assert versions(member, bucket).status_code == 403
    assert post(member, bucket, "restore", {"objectkey": KEY, "versionId": only}).status_code == 403
    assert post(member, bucket, "delete", {"objectkey": KEY, "versionId": only}).status_code == 403


def test_restoring_the_null_version_of_a_suspended_bucket_keeps_its_bytes(account: Any) -> None:
    """The restored copy replaces its own source (the one "null" version): its blob must stay."""
    bucket = str(create_bucket(account)["bucketName"])
    original = os.urandom(300_000)
    put_object(account, bucket, KEY, original)
    expect(account.put(f"{API}/buckets/{bucket}", json={"versioning": True}), 200)
    put_object(account, bucket, KEY, b"newer")
    expect(account.put(f"{API}/buckets/{bucket}", json={"versioning": False}), 200)
    expect(post(account, bucket, "restore", {"objectkey": KEY, "versionId": "null"}), 200)
    assert download(account, bucket, KEY).content == original
