"""KOS REST buckets: list, create, get, update, delete, over HTTP against a real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .kos_helpers import (API, bucket_name, create_bucket, download, expect, get_bucket, post,
                          put_object, upload)

BUCKET_FIELDS = {"name", "krnid", "owner", "account_id", "createdAt", "usedCapacity",
                 "allocatedCapacity", "region", "url", "status", "path", "protocol", "tags",
                 "versioning", "anonymous_access", "tier", "description", "created_at"}


# -- create -----------------------------------------------------------------------------------

def test_create_answers_the_published_fields_and_the_whole_bucket(account: Any, server: Any) -> None:
    name = bucket_name()
    body = create_bucket(account, name, description="d", tags={"team": "x"}, versioning=True)
    assert body["bucketName"] == name
    assert body["krn"] == f"krn:kos:In-Bangalore-1:{account.account_id}:{account.kcid}:bucket:{name}"
    assert body["createdAt"].endswith("Z")
    assert BUCKET_FIELDS <= set(body)
    assert body["krnid"] == body["krn"] and body["region"] == "In-Bangalore-1" and body["tier"] == "tier-1"
    assert body["url"] == f"{server.s3_url}/{name}"
    assert (body["status"], body["protocol"], body["versioning"], body["anonymous_access"]) == \
        ("active", "s3", True, False)
    assert body["tags"] == {"team": "x"} and body["description"] == "d"
    assert body["usedCapacity"] == 0 and body["owner"] == account.kcid


def test_region_and_tier_come_from_the_body_or_the_official_clients_headers(account: Any) -> None:
    by_header = expect(account.post(f"{API}/buckets", json={"name": bucket_name()},
                                    headers={"x-region-id": "In-Hyderabad-1"}), 201)
    assert (by_header["region"], by_header["tier"]) == ("In-Hyderabad-1", "tier-2")
    by_body = expect(account.post(f"{API}/buckets", json={"name": bucket_name(), "region": "In-Bangalore-1",
                                                          "tier": "tier-1"},
                                  headers={"x-region-id": "In-Hyderabad-1", "x-tier": "tier-2"}), 201)
    assert (by_body["region"], by_body["tier"]) == ("In-Bangalore-1", "tier-1")


def test_unknown_region_is_400_listing_the_known_ones(account: Any) -> None:
    body = expect(account.post(f"{API}/buckets", json={"name": bucket_name(), "region": "Mars-1"}), 400)
    assert "In-Bangalore-1" in body["message"] and "In-Hyderabad-1" in body["message"]


def test_create_refuses_bad_input(account: Any) -> None:
    assert account.post(f"{API}/buckets", json={}).status_code == 400
    assert account.post(f"{API}/buckets", json={"name": "Not_Valid"}).status_code == 400
    assert account.post(f"{API}/buckets", json={"name": "ab"}).status_code == 400
    assert account.post(f"{API}/buckets", json={"name": 42}).status_code == 422
    assert account.post(f"{API}/buckets", json={"name": bucket_name(), "versioning": "yes"}).status_code == 422
    assert account.post(f"{API}/buckets", json={"name": bucket_name(), "tags": ["a"]}).status_code == 422
    assert account.post(f"{API}/buckets", content=b"{not json",
                        headers={"Content-Type": "application/json"}).status_code == 400


def test_names_are_unique_across_accounts(account: Any, new_account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    assert account.post(f"{API}/buckets", json={"name": name}).status_code == 409
    assert new_account().post(f"{API}/buckets", json={"name": name}).status_code == 409


def test_unauthenticated_requests_are_401(server: Any) -> None:
    with server.http() as anonymous:
        assert anonymous.get(f"{API}/buckets").status_code == 401
        assert anonymous.post(f"{API}/buckets", json={"name": bucket_name()}).status_code == 401


# -- list -------------------------------------------------------------------------------------

def test_list_pages_filters_and_shows_only_the_callers_buckets(account: Any, new_account: Any) -> None:
    names = sorted(create_bucket(account, f"pg-{i}-{bucket_name()}")["bucketName"] for i in range(5))
    new_account().post(f"{API}/buckets", json={"name": f"pg-other-{bucket_name()}"})
    everything = expect(account.get(f"{API}/buckets"), 200)
    assert {b["name"] for b in everything["items"]} == set(names)
    assert (everything["totalItems"], everything["totalPages"], everything["currentPage"],
            everything.get("nextPage")) == (5, 1, 1, None)
    first = expect(account.get(f"{API}/buckets", params={"page": 1, "page_size": 2}), 200)
    assert (first["totalItems"], first["totalPages"], first["nextPage"], len(first["items"])) == (5, 3, 2, 2)
    last = expect(account.get(f"{API}/buckets", params={"page": 3, "page_size": 2, "refresh": "true"}), 200)
    assert (last["currentPage"], len(last["items"])) == (3, 1)
    assert "nextPage" not in last  # absent, not null: the reference types it integer
    paged = [b["name"] for p in (1, 2, 3)
             for b in expect(account.get(f"{API}/buckets", params={"page": p, "page_size": 2}), 200)["items"]]
    assert sorted(paged) == names
    filtered = expect(account.get(f"{API}/buckets", params={"name_filter": names[2][:6]}), 200)
    assert [b["name"] for b in filtered["items"]] == [names[2]]


def test_list_refuses_bad_paging(account: Any) -> None:
    assert account.get(f"{API}/buckets", params={"page": 0}).status_code == 400
    assert account.get(f"{API}/buckets", params={"page_size": "x"}).status_code == 400


# -- get, update ------------------------------------------------------------------------------

def test_get_by_name_or_unescaped_krn(account: Any) -> None:
    created = create_bucket(account)
    assert get_bucket(account, created["bucketName"])["krnid"] == created["krn"]
    assert get_bucket(account, created["krn"])["name"] == created["bucketName"]
    assert account.get(f"{API}/buckets/{bucket_name()}").status_code == 404


def test_update_changes_tags_versioning_and_anonymous_access(account: Any) -> None:
    name = create_bucket(account, tags={"a": "1"})["bucketName"]
    body = expect(account.put(f"{API}/buckets/{name}", json={"tags": {"b": "2"}, "versioning": True,
                                                             "anonymous_access": True}), 200)
    assert (body["tags"], body["versioning"], body["anonymous_access"]) == ({"b": "2"}, True, True)
    assert BUCKET_FIELDS <= set(body)
    body = expect(account.put(f"{API}/buckets/{name}", json={"versioning": False}), 200)
    assert (body["tags"], body["versioning"], body["anonymous_access"]) == ({"b": "2"}, False, True)
    assert account.put(f"{API}/buckets/{name}", json={"versioning": "on"}).status_code == 422
    assert account.put(f"{API}/buckets/{bucket_name()}", json={"tags": {}}).status_code == 404


def test_another_account_never_sees_the_bucket(account: Any, new_account: Any) -> None:
    created = create_bucket(account)
    other = new_account()
    for ref in (created["bucketName"], created["krn"]):
        assert other.get(f"{API}/buckets/{ref}").status_code == 404
        assert other.put(f"{API}/buckets/{ref}", json={"tags": {"x": "y"}}).status_code == 404
        assert other.delete(f"{API}/buckets/{ref}").status_code == 404
    assert get_bucket(account, created["bucketName"])["tags"] == {}


# -- delete -----------------------------------------------------------------------------------

def test_delete_of_a_non_empty_bucket_is_409_and_removes_nothing(account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    put_object(account, name, "keep.txt", b"still here")
    body = expect(account.delete(f"{API}/buckets/{name}"), 409)
    assert "not empty" in body["message"]
    assert download(account, name, "keep.txt").content == b"still here"
    expect(post(account, name, "delete", {"objectkey": "keep.txt"}), 200)
    assert account.request("DELETE", f"{API}/buckets/{name}", json={"otp": "123456"}).status_code == 204
    assert account.get(f"{API}/buckets/{name}").status_code == 404
    assert account.delete(f"{API}/buckets/{name}").status_code == 404


def test_delete_by_krn_without_a_body(account: Any) -> None:
    created = create_bucket(account)
    assert account.delete(f"{API}/buckets/{created['krn']}").status_code == 204


# -- usedCapacity -----------------------------------------------------------------------------

def _usage(client: httpx.Client, name: str) -> tuple[int, int]:
    bucket = get_bucket(client, name)
    return bucket["usedCapacity"], bucket["objectCount"]


def test_used_capacity_is_exact_bytes_through_every_write(account: Any) -> None:
    name = create_bucket(account)["bucketName"]
    expect(upload(account, name, {"a": b"x" * 1000, "b": b"y" * 200_000, "c": b""}), 201)
    assert _usage(account, name) == (201_000, 3)
    put_object(account, name, "a", b"z" * 10)                      # overwrite: 1000 -> 10
    assert _usage(account, name) == (200_010, 3)
    expect(post(account, name, "move", {"sourceKey": "b", "destinationKey": "b2", "action": "copy"}), 200)
    assert _usage(account, name) == (400_010, 4)
    expect(post(account, name, "move", {"sourceKey": "b2", "destinationKey": "b3"}), 200)
    assert _usage(account, name) == (400_010, 4)
    expect(post(account, name, "rename", {"oldKey": "b3", "newKey": "a"}), 200)   # replaces "a"
    assert _usage(account, name) == (400_000, 3)
    expect(post(account, name, "delete", {"objectkey": "b"}), 200)
    assert _usage(account, name) == (200_000, 2)


def test_versioned_bucket_counts_noncurrent_versions(account: Any) -> None:
    name = create_bucket(account, versioning=True)["bucketName"]
    put_object(account, name, "k", b"1" * 100)
    put_object(account, name, "k", b"2" * 50)
    assert _usage(account, name) == (150, 2)
    expect(post(account, name, "delete", {"objectkey": "k"}), 200)
    assert _usage(account, name) == (150, 2)
    assert account.delete(f"{API}/buckets/{name}").status_code == 409


# -- the official SDK ---------------------------------------------------------------------------

def test_the_official_sdk_creates_lists_and_deletes(account: Any, server: Any) -> None:
    from krutrim_client import KrutrimClient

    sdk = KrutrimClient(api_key=account.session_token, base_url=server.kos_url)
    name = bucket_name()
    created = sdk.kos.buckets.create_bucket(name=name, region="In-Bangalore-1", x_region_id="In-Bangalore-1")
    assert created.bucketName == name and created.krn
    listed = account.get(f"{API}/buckets").json()["items"]
    assert any(b["krnid"] == created.krn and b["tier"] == "tier-1" for b in listed)
    assert sdk.kos.buckets.delete_bucket(created.krn, x_region_id="In-Bangalore-1") == {"bucket_krn": created.krn}
    assert account.get(f"{API}/buckets/{name}").status_code == 404


@pytest.mark.parametrize("body", [{"name": "renamed"}, {"region": "In-Hyderabad-1"},
                                  {"versioning": True, "krnid": "krn:x"}])
def test_an_update_refuses_a_field_it_cannot_change_and_changes_nothing(account: Any, body: Any) -> None:
    name = create_bucket(account)["bucketName"]
    before = get_bucket(account, name)
    answer = account.put(f"{API}/buckets/{name}", json=body)
    assert answer.status_code == 400
    assert "cannot be changed" in answer.json()["message"]
    assert get_bucket(account, name) == before
