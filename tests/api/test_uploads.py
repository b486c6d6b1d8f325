"""KOS REST multipart uploads (Kosha's extension): create, parts, resume, complete, abort."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from .kos_helpers import API, create_bucket, download, expect

MIB = 1024 * 1024


@pytest.fixture
def bucket(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


def uploads(bucket: str) -> str:
    return f"{API}/buckets/{bucket}/uploads"


def start(client: Any, bucket: str, key: str = "big/file.bin", **body: Any) -> str:
    answer = expect(client.post(uploads(bucket), json={"objectkey": key, **body}), 201)
    assert answer["objectKey"] == key
    return str(answer["uploadId"])


def put_part(client: Any, bucket: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
    return dict(expect(client.put(f"{uploads(bucket)}/{upload_id}/parts/{number}", content=data), 200))


def test_three_parts_make_the_object_with_an_s3_style_etag(account: Any, bucket: str) -> None:
    upload_id = start(account, bucket, contentType="application/x-test")
    chunks = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB)]
    parts = [put_part(account, bucket, upload_id, n, data) for n, data in enumerate(chunks, 1)]
    assert [(p["partNumber"], p["size"]) for p in parts] == [(1, 5 * MIB), (2, 5 * MIB), (3, MIB)]
    assert parts[0]["etag"] == f'"{hashlib.md5(chunks[0]).hexdigest()}"'
    done = expect(account.post(f"{uploads(bucket)}/{upload_id}/complete", json={
        "parts": [{"partNumber": p["partNumber"], "etag": p["etag"]} for p in parts]}), 200)
    digest = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
    assert done["etag"] == f'"{digest}-3"' and done["objectKey"] == "big/file.bin"
    assert done["versionId"]
    got = download(account, bucket, "big/file.bin")
    assert got.status_code == 200 and got.content == b"".join(chunks)
    assert got.headers["content-type"] == "application/x-test"
    assert account.get(f"{uploads(bucket)}/{upload_id}").status_code == 404


def test_an_upload_lists_its_parts_for_resuming(account: Any, bucket: str) -> None:
    upload_id = start(account, bucket)
    first = put_part(account, bucket, upload_id, 1, b"a" * (5 * MIB))
    put_part(account, bucket, upload_id, 3, b"c")
    state = expect(account.get(f"{uploads(bucket)}/{upload_id}"), 200)
    assert state["uploadId"] == upload_id and state["objectKey"] == "big/file.bin"
    assert state["initiated"].endswith("Z")
    assert state["parts"] == [first, {"partNumber": 3, "etag": f'"{hashlib.md5(b"c").hexdigest()}"',
                                      "size": 1}]


def test_uploads_are_listed_by_prefix(account: Any, bucket: str) -> None:
    a, b = start(account, bucket, "logs/a"), start(account, bucket, "data/b")
    listed = expect(account.get(uploads(bucket), params={"prefix": "logs/"}), 200)["uploads"]
    assert [(u["uploadId"], u["objectKey"]) for u in listed] == [(a, "logs/a")]
    everything = expect(account.get(uploads(bucket)), 200)["uploads"]
    assert {u["uploadId"] for u in everything} == {a, b}


def test_abort_drops_the_upload_and_its_parts(account: Any, bucket: str) -> None:
    upload_id = start(account, bucket)
    put_part(account, bucket, upload_id, 1, b"x" * 1000)
    assert account.delete(f"{uploads(bucket)}/{upload_id}").status_code == 204
    assert account.get(f"{uploads(bucket)}/{upload_id}").status_code == 404
    assert account.delete(f"{uploads(bucket)}/{upload_id}").status_code == 404
    assert expect(account.get(uploads(bucket)), 200)["uploads"] == []


def test_a_small_part_before_the_last_is_refused_at_completion(account: Any, bucket: str) -> None:
    upload_id = start(account, bucket)
    small = put_part(account, bucket, upload_id, 1, b"tiny")
    last = put_part(account, bucket, upload_id, 2, b"end")
    response = account.post(f"{uploads(bucket)}/{upload_id}/complete", json={"parts": [
        {"partNumber": 1, "etag": small["etag"]}, {"partNumber": 2, "etag": last["etag"]}]})
    assert response.status_code == 400
    wrong = account.post(f"{uploads(bucket)}/{upload_id}/complete",
                         json={"parts": [{"partNumber": 1, "etag": '"0000"'}]})
    assert wrong.status_code == 400


def test_bad_input_is_422(account: Any, bucket: str) -> None:
    upload_id = start(account, bucket)
    assert account.put(f"{uploads(bucket)}/{upload_id}/parts/one", content=b"x").status_code == 422
    assert account.put(f"{uploads(bucket)}/{upload_id}/parts/10001", content=b"x").status_code == 400
    complete = f"{uploads(bucket)}/{upload_id}/complete"
    assert account.post(complete, json={"parts": "all"}).status_code == 422
    assert account.post(complete, json={"parts": [{"partNumber": "1", "etag": "x"}]}).status_code == 422
    assert account.post(uploads(bucket), json={"objectkey": 7}).status_code == 422
    assert account.post(uploads(bucket), json={}).status_code == 400


def test_an_unknown_upload_is_404(account: Any, bucket: str) -> None:
    assert account.get(f"{uploads(bucket)}/nope").status_code == 404
    assert account.put(f"{uploads(bucket)}/nope/parts/1", content=b"x").status_code == 404
    assert account.post(f"{uploads(bucket)}/nope/complete",
                        json={"parts": [{"partNumber": 1, "etag": "x"}]}).status_code == 404


def test_another_accounts_uploads_are_404(account: Any, bucket: str, new_account: Any) -> None:
    upload_id = start(account, bucket)
    stranger = new_account()
    assert stranger.post(uploads(bucket), json={"objectkey": "k"}).status_code == 404
    assert stranger.get(uploads(bucket)).status_code == 404
    assert stranger.get(f"{uploads(bucket)}/{upload_id}").status_code == 404
    assert stranger.put(f"{uploads(bucket)}/{upload_id}/parts/1", content=b"x").status_code == 404
    assert stranger.delete(f"{uploads(bucket)}/{upload_id}").status_code == 404
    assert account.get(f"{uploads(bucket)}/{upload_id}").status_code == 200


def test_a_member_without_a_policy_is_403(account: Any, member: Any, bucket: str) -> None:
    upload_id = start(account, bucket)
    assert member.post(uploads(bucket), json={"objectkey": "k"}).status_code == 403
    assert member.get(uploads(bucket)).status_code == 403
    assert member.put(f"{uploads(bucket)}/{upload_id}/parts/1", content=b"x").status_code == 403
    assert member.delete(f"{uploads(bucket)}/{upload_id}").status_code == 403
