"""KOS REST `GET .../objects/versions` without `key`: every version under a prefix, paged."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .kos_helpers import API, create_bucket, expect, post, put_object


@pytest.fixture
def bucket(account: Any) -> str:
    """A versioned bucket: `live` (2 versions), `gone` (deleted: a marker over 1 version),
    `dir/old` (3 versions), `other/x` (1 version)."""
    name = str(create_bucket(account, versioning=True)["bucketName"])
    for key, count in (("live", 2), ("gone", 1), ("dir/old", 3), ("other/x", 1)):
        for n in range(count):
            put_object(account, name, key, f"{key} {n}".encode())
    expect(post(account, name, "delete", {"objectkey": "gone"}), 200)
    return name


def listing(client: Any, bucket: str, **params: Any) -> Any:
    return client.get(f"{API}/buckets/{bucket}/objects/versions", params=params)


def every_page(client: Any, bucket: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = expect(listing(client, bucket, **params,
                              **({"continuation_token": token} if token else {})), 200)
        found += page["versions"]
        if not page["isTruncated"]:
            assert page["nextContinuationToken"] is None
            return found
        token = page["nextContinuationToken"]


def test_without_a_key_every_version_of_every_key_is_listed(account: Any, bucket: str) -> None:
    body = expect(listing(account, bucket), 200)
    assert body["prefix"] == "" and body["isTruncated"] is False
    shape = [(v["key"], v["isLatest"], v["isDeleteMarker"]) for v in body["versions"]]
    assert shape == [("dir/old", True, False), ("dir/old", False, False), ("dir/old", False, False),
                     ("gone", True, True), ("gone", False, False),
                     ("live", True, False), ("live", False, False), ("other/x", True, False)]


def test_each_keys_versions_come_newest_first(account: Any, bucket: str) -> None:
    everything = expect(listing(account, bucket), 200)["versions"]
    per_key = expect(listing(account, bucket, key="dir/old"), 200)["versions"]
    assert [v for v in everything if v["key"] == "dir/old"] == per_key


def test_a_prefix_limits_the_keys(account: Any, bucket: str) -> None:
    body = expect(listing(account, bucket, prefix="dir/"), 200)
    assert body["prefix"] == "dir/"
    assert {v["key"] for v in body["versions"]} == {"dir/old"} and len(body["versions"]) == 3


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_pages_of_any_size_add_up_to_the_whole_listing(account: Any, bucket: str,
                                                       size: int) -> None:
    whole = expect(listing(account, bucket), 200)["versions"]
    paged = every_page(account, bucket, max_keys=size)
    assert [(v["key"], v["versionId"]) for v in paged] == [(v["key"], v["versionId"]) for v in whole]


def test_a_page_holds_at_most_max_keys(account: Any, bucket: str) -> None:
    page = expect(listing(account, bucket, max_keys=3), 200)
    assert len(page["versions"]) == 3 and page["isTruncated"] is True


def test_page_size_is_bounded(account: Any, bucket: str) -> None:
    assert listing(account, bucket, max_keys=1001).status_code == 400
    assert listing(account, bucket, max_keys=0).status_code == 400


def test_a_token_not_issued_by_the_server_is_refused(account: Any, bucket: str) -> None:
    forged = base64.urlsafe_b64encode(b'{"not": "a marker"}').decode()
    for token in ("%%%", forged, "bm90IGpzb24="):
        assert listing(account, bucket, continuation_token=token).status_code == 400


def test_deleting_every_listed_version_empties_the_bucket(account: Any, bucket: str) -> None:
    for version in every_page(account, bucket, max_keys=2):
        expect(post(account, bucket, "delete", {"objectkey": version["key"],
                                                "versionId": version["versionId"]}), 200)
    assert expect(listing(account, bucket), 200)["versions"] == []
    assert account.delete(f"{API}/buckets/{bucket}").status_code in (200, 204)


def test_another_account_gets_404_and_a_member_without_policy_403(
        account: Any, bucket: str, new_account: Any, member: Any) -> None:
    assert listing(new_account(), bucket).status_code == 404
    assert listing(member, bucket).status_code == 403
