"""KOS REST move/copy to another bucket (`destinationBucket`, Kosha's extension): metadata only."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Any

import pytest

from .kos_helpers import API, blob_bytes, create_bucket, download, expect, metadata, post, put_object

MiB = 1024 * 1024


@pytest.fixture
def source(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


@pytest.fixture
def target(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


def relocate(client: Any, source: str, key: str, target: str, new_key: str,
             action: str = "copy") -> Any:
    return post(client, source, "move", {"sourceKey": key, "destinationKey": new_key,
                                         "action": action, "destinationBucket": target})


def grant(admin: Any, member: Any, *actions: str) -> None:
    """Attach to `member` a policy of the account allowing `actions` on everything."""
    policy = expect(admin.post(f"{API}/account/policies", json={
        "name": f"p-{uuid.uuid4().hex[:10]}",
        "statements": [{"effect": "Allow", "actions": list(actions), "resources": ["*"]}]}), 201)
    expect(admin.post(f"{API}/account/policies/attach",
                      json={"policyKRNs": [policy["policyKRN"]], "users": [member.kcid]}), 200)


def _seconds(action: Any) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def test_a_64_mib_copy_across_buckets_shares_the_blob_and_takes_no_byte_time(
        account: Any, source: str, target: str, server: Any) -> None:
    data = os.urandom(64 * MiB)
    put_object(account, source, "big", data)
    stored = blob_bytes(server.data_dir)
    byte_time = min(_seconds(lambda: download(account, source, "big").content) for _ in range(2))
    copy_time = _seconds(lambda: expect(relocate(account, source, "big", target, "copied"), 200))
    assert copy_time < byte_time / 2, (copy_time, byte_time)
    assert blob_bytes(server.data_dir) == stored
    copied = download(account, target, "copied").content
    assert hashlib.md5(copied).digest() == hashlib.md5(data).digest()
    assert download(account, source, "big").status_code == 200


def test_the_answer_names_the_destination_bucket(account: Any, source: str, target: str) -> None:
    put_object(account, source, "a", b"A")
    body = expect(relocate(account, source, "a", target, "b/a"), 200)
    assert body == {"message": "Object copied successfully", "sourceKey": "a",
                    "destinationKey": "b/a", "destinationBucket": target}


def test_a_move_across_buckets_removes_the_source_and_keeps_the_bytes(
        account: Any, source: str, target: str, server: Any) -> None:
    data = os.urandom(300_000)
    put_object(account, source, "m", data)
    stored = blob_bytes(server.data_dir)
    expect(relocate(account, source, "m", target, "moved", action="move"), 200)
    assert metadata(account, source, "m").status_code == 404
    assert download(account, target, "moved").content == data
    assert blob_bytes(server.data_dir) == stored


def test_the_destination_bucket_may_be_named_by_its_krn(account: Any, source: str,
                                                        target: str) -> None:
    put_object(account, source, "k", b"by krn")
    krn = expect(account.get(f"{API}/buckets/{target}"), 200)["krnid"]
    expect(relocate(account, source, "k", krn, "k", action="move"), 200)
    assert download(account, target, "k").content == b"by krn"


def test_a_move_from_a_versioned_bucket_leaves_a_delete_marker(account: Any, target: str) -> None:
    versioned = str(create_bucket(account, versioning=True)["bucketName"])
    put_object(account, versioned, "v", b"old")
    expect(relocate(account, versioned, "v", target, "v", action="move"), 200)
    listed = expect(account.get(f"{API}/buckets/{versioned}/objects/versions",
                                params={"key": "v"}), 200)["versions"]
    assert [v["isDeleteMarker"] for v in listed] == [True, False]
    assert download(account, target, "v").content == b"old"


def test_a_missing_source_or_destination_bucket_is_404(account: Any, source: str,
                                                       target: str) -> None:
    put_object(account, source, "k", b"1")
    assert relocate(account, source, "absent", target, "x").status_code == 404
    assert relocate(account, source, "k", f"nobucket-{uuid.uuid4().hex[:8]}", "x").status_code == 404
    assert relocate(account, source, "k", target, "x", action="zip").status_code == 422
    assert post(account, source, "move", {"sourceKey": "k", "destinationKey": "x",
                                          "destinationBucket": 7}).status_code == 422
    assert metadata(account, target, "x").status_code == 404


def test_a_member_may_copy_with_get_and_put(account: Any, member: Any, source: str,
                                            target: str) -> None:
    put_object(account, source, "k", b"1")
    grant(account, member, "kos:GetObject", "kos:PutObject")
    expect(relocate(member, source, "k", target, "copy"), 200)
    assert download(account, target, "copy").content == b"1"


@pytest.mark.parametrize(("granted", "refused"), [
    (("kos:GetObject", "kos:PutObject"), ("move",)),                  # no delete on the source
    (("kos:DeleteObject", "kos:PutObject"), ("copy", "move")),        # no get on the source
    (("kos:GetObject", "kos:DeleteObject"), ("copy", "move")),        # no put on the destination
])
def test_a_member_lacking_one_permission_is_refused_and_nothing_changes(
        account: Any, member: Any, source: str, target: str, granted: tuple[str, ...],
        refused: tuple[str, ...]) -> None:
    put_object(account, source, "k", b"1")
    grant(account, member, *granted)
    for action in refused:
        assert relocate(member, source, "k", target, "x", action=action).status_code == 403
    assert download(account, source, "k").content == b"1"
    assert metadata(account, target, "x").status_code == 404


@pytest.mark.parametrize("caller_owns", ["source", "destination"])
def test_another_accounts_bucket_is_refused_as_not_found(account: Any, source: str,
                                                         new_account: Any, caller_owns: str) -> None:
    """Either way across accounts: the caller's own bucket with another account's."""
    put_object(account, source, "k", b"mine")
    other = new_account()
    theirs = str(create_bucket(other)["bucketName"])
    caller = account if caller_owns == "source" else other
    for action in ("copy", "move"):
        assert relocate(caller, source, "k", theirs, "taken", action=action).status_code == 404
    assert metadata(other, theirs, "taken").status_code == 404
    assert download(account, source, "k").content == b"mine"
