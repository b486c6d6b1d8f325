"""KOS REST under hostile input: every malformed request is a 4xx with a message, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from .kos_helpers import API, create_bucket, download, expect, put_object

NESTED = b"[" * 3000 + b"]" * 3000
NESTED_OBJECT = b'{"name": ' + b'{"a": ' * 2000 + b"1" + b"}" * 2000 + b"}"


def _client_error(response: httpx.Response) -> dict[str, Any]:
    """The JSON error of a 4xx answer (its message says what was wrong)."""
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["message"]
    return dict(body)


def _raw_json(client: httpx.Client, method: str, url: str, raw: bytes) -> httpx.Response:
    return client.request(method, url, content=raw, headers={"content-type": "application/json"})


@pytest.fixture
def bucket(account: Any) -> str:
    return str(create_bucket(account)["bucketName"])


# -- nesting ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [NESTED, NESTED_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_without_credentials_is_400(server: Any, raw: bytes) -> None:
    with server.http() as anonymous:
        body = _client_error(_raw_json(anonymous, "POST", f"{API}/sessions/activate", raw))
    assert "nest" in body["message"]


def test_deeply_nested_json_to_bucket_creation_is_400(account: Any) -> None:
    assert _raw_json(account, "POST", f"{API}/buckets", NESTED_OBJECT).status_code == 400


def test_deeply_nested_json_to_lifecycle_creation_is_400(account: Any, bucket: str) -> None:
    response = _raw_json(account, "POST", f"{API}/buckets/{bucket}/lifecycle-rules", NESTED)
    assert response.status_code == 400


def test_moderately_nested_json_is_still_accepted(account: Any) -> None:
    tags = {"a": "b"}
    created = create_bucket(account, tags=tags)
    assert created["bucketName"]


# -- lone surrogates --------------------------------------------------------------------------

def _with_surrogate(body: dict[str, Any], name: str) -> bytes:
    """A JSON body whose `name` field holds a lone surrogate (legal JSON, not encodable text)."""
    return json.dumps({**body, name: "PLACEHOLDER"}).encode().replace(b'"PLACEHOLDER"', b'"a\\ud800b"')


def test_lone_surrogate_in_access_key_is_a_malformed_activation_naming_it(server: Any) -> None:
    with server.http() as anonymous:
        raw = _with_surrogate({"secretKey": "x"}, "accessKey")
        response = _raw_json(anonymous, "POST", f"{API}/sessions/activate", raw)
    assert response.status_code == 400 and "accessKey" in _client_error(response)["message"]


@pytest.mark.parametrize(("route", "body", "name"), [
    ("buckets", {}, "name"),
    ("access_keys", {}, "key_name"),
    ("{bucket}/lifecycle-rules", {"enabled": True, "expiration_days": 3}, "name"),
    ("{bucket}/objects", {}, "prefix"),
    ("{bucket}/objects/move", {"sourceKey": "k"}, "destinationKey"),
    ("{bucket}/objects/download", {}, "objectkey"),
    ("{bucket}/objects/metadata", {}, "objectkey"),
])
def test_lone_surrogate_in_a_string_field_is_422_naming_it(account: Any, bucket: str, route: str,
                                                            body: dict[str, Any], name: str) -> None:
    url = f"{API}/{route}".replace("{bucket}", f"buckets/{bucket}")
    method = "PUT" if route.endswith("/objects") else "POST"
    response = _raw_json(account, method, url, _with_surrogate(body, name))
    assert response.status_code == 422, response.text
    assert name in _client_error(response)["message"]


def test_lone_surrogate_in_a_nested_value_is_422(account: Any) -> None:
    raw = b'{"name": "b-surrogate", "tags": {"k": "\\udc80"}}'
    assert _raw_json(account, "POST", f"{API}/buckets", raw).status_code == 422


def test_lone_surrogate_in_an_object_member_name_is_422(account: Any) -> None:
    raw = b'{"name": "b-surrogate", "tags": {"\\udc80": "v"}}'
    assert _raw_json(account, "POST", f"{API}/buckets", raw).status_code == 422


def test_paired_surrogates_are_ordinary_text(account: Any, bucket: str) -> None:
    put_object(account, bucket, "\U0001f600.txt", b"smile")
    raw = b'{"objectkey": "\\ud83d\\ude00.txt"}'
    response = account.post(f"{API}/buckets/{bucket}/objects/download", content=raw,
                            headers={"content-type": "application/json",
                                     "accept": "application/octet-stream"})
    assert response.status_code == 200 and response.content == b"smile"


# -- ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["bytes=²-", "bytes=0-³", "bytes=-¹", "bytes=¹²-", "bytes=-0²"])
def test_range_with_non_ascii_digits_is_ignored(account: Any, bucket: str, header: str) -> None:
    put_object(account, bucket, "r.bin", b"0123456789")
    response = account.post(f"{API}/buckets/{bucket}/objects/download", json={"objectkey": "r.bin"},
                            headers={"accept": "application/octet-stream", "range": header.encode("latin-1")})
    assert response.status_code == 200 and response.content == b"0123456789"


# -- multipart/form-data ----------------------------------------------------------------------

@pytest.mark.parametrize("length", [71, 257, 4000])
def test_multipart_boundary_longer_than_70_characters_is_400(account: Any, bucket: str,
                                                             length: int) -> None:
    boundary = "b" * length
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
            f"x\r\n--{boundary}--\r\n").encode()
    response = account.put(f"{API}/buckets/{bucket}/objects", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400 and "boundary" in _client_error(response)["message"]


def test_multipart_boundary_of_70_characters_is_accepted(account: Any, bucket: str) -> None:
    boundary = "b" * 70
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
            f"x\r\n--{boundary}--\r\n").encode()
    response = account.put(f"{API}/buckets/{bucket}/objects", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("body", [
    b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nx",   # no end
    b"--b\r\n" + b"X-Long: " + b"h" * 40000 + b"\r\n\r\nx\r\n--b--\r\n",                 # header
    b"garbage before any boundary\r\n--b--\r\n",
    b"--b\r\n\r\n\r\n--b--\r\n",                                                       # no disposition
])
def test_malformed_multipart_bodies_are_400(account: Any, bucket: str, body: bytes) -> None:
    response = account.put(f"{API}/buckets/{bucket}/objects", content=body,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    _client_error(response)


# -- keys -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["nul\x00key", "bell\x07", "esc\x1b[0m", "\ufffe"])
def test_keys_with_characters_xml_cannot_carry_are_400(account: Any, bucket: str, key: str) -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + key.encode()
            + b"\"\r\n\r\nx\r\n--b--\r\n")
    response = account.put(f"{API}/buckets/{bucket}/objects", content=body,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 400, response.text
    body = json.dumps({"objectkey": key}).encode()
    assert _raw_json(account, "POST", f"{API}/buckets/{bucket}/uploads", body).status_code == 400



# -- every route --------------------------------------------------------------------------------

HOSTILE_BODIES = {
    "nested": (NESTED, "application/json"),
    "surrogates": (b'{"name": "\\ud800", "objectkey": "\\udfff", "prefix": "\\ud800", "tags": {"\\ud800": 1},'
                   b' "statements": [{"\\udc00": "\\ud800"}], "rules": ["\\ud800"]}', "application/json"),
    "not-utf8": (b'{"name": "\xff\xfe"}', "application/json"),
    "truncated": (b'{"name": ', "application/json"),
    "form": (b"--" + b"b" * 300 + b"\r\n\r\n", "multipart/form-data; boundary=" + "b" * 300),
}


def _routes(server: Any) -> list[tuple[str, str]]:
    with server.http() as anonymous:
        spec = anonymous.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")]


@pytest.mark.parametrize("body", sorted(HOSTILE_BODIES))
def test_no_route_answers_5xx_to_hostile_bodies_and_headers(server: Any, account: Any, bucket: str,
                                                            body: str) -> None:
    raw, content_type = HOSTILE_BODIES[body]
    headers = {"content-type": content_type, "range": b"bytes=\xb2-", "if-match": b"\xff\xb2",
               "x-region-id": b"\xff", "x-tier": b"\x7f\x80", "accept": "application/octet-stream"}
    failures = []
    with server.http() as anonymous:
        for method, path in _routes(server):
            url = (path.replace("{bucketId}", bucket).replace("{bucketName}", bucket)
                   .replace("{", "x").replace("}", ""))
            if "deactivate" in url or "/internal/" in url and method == "DELETE":
                continue
            for client in (account, anonymous):
                response = client.request(method, url, content=raw, headers=headers)
                if response.status_code >= 500:
                    failures.append(f"{method} {url}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)
