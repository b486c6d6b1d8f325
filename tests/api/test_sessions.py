"""Session Management: activate, refresh, deactivate, status, expiry and rate limiting."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

ACTIVATE = "/kos/v1/sessions/activate"
PROTECTED = "/kos/v1/access_keys"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def activate(http: httpx.Client, access_key: str, secret_key: str) -> httpx.Response:
    return http.post(ACTIVATE, json={"accessKey": access_key, "secretKey": secret_key})


@pytest.fixture
def creds(account: Any) -> tuple[str, str]:
    """An access key of its own, so activating it ends no fixture's session."""
    body = account.post("/kos/v1/access_keys", json={"key_name": "sessions"}).json()
    return body["access_key"], body["secret_key"]


def test_activate_answers_tokens_in_both_spellings(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        response = activate(http, *creds)
    assert response.status_code == 200
    body = response.json()
    for name in ("sessionToken", "refreshToken", "expiresAt", "lastActiveAt",
                 "session_token", "refresh_token", "expires_at"):
        assert body[name], name
    assert body["session_token"] == body["sessionToken"]
    assert body["sessionToken"] != body["refreshToken"]
    assert len(body["sessionToken"]) >= 40 and "." not in body["sessionToken"]
    assert body["expiresAt"].endswith("Z")


def test_session_token_works_as_bearer_and_as_x_session_token(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        token = activate(http, *creds).json()["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 200
        assert http.get(PROTECTED, headers={"x-session-token": token}).status_code == 200


def test_tokens_are_stored_hashed(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        body = activate(http, *creds).json()
    with sqlite3.connect(server.data_dir / "kosha.db") as db:
        rows = db.execute("SELECT token_hash, refresh_hash FROM sessions").fetchall()
    stored = {value for row in rows for value in row}
    assert body["sessionToken"] not in stored and body["refreshToken"] not in stored
    assert hashlib.sha256(body["sessionToken"].encode()).hexdigest() in stored
    assert hashlib.sha256(body["refreshToken"].encode()).hexdigest() in stored


def test_activating_again_ends_the_older_session(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        first = activate(http, *creds).json()["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(first)).status_code == 200
        second = activate(http, *creds).json()["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(first)).status_code == 401
        assert http.get(PROTECTED, headers=bearer(second)).status_code == 200
        assert http.get(f"/kos/v1/sessions/status/{first}").json()["isActive"] is False
        assert http.get(f"/kos/v1/sessions/status/{second}").json()["isActive"] is True


@pytest.mark.parametrize("body", [
    {}, {"accessKey": "KOSX"}, {"secretKey": "x"}, {"accessKey": 5, "secretKey": "x"},
    {"accessKey": "KOSX", "secretKey": ["x"]}, {"accessKey": "K" * 5000, "secretKey": "x"},
])
def test_activate_malformed_request(server: Any, body: dict[str, Any]) -> None:
    with server.http() as http:
        response = http.post(ACTIVATE, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_REQUEST"
    assert response.json()["error"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_activate_unparseable_body(server: Any, raw: bytes) -> None:
    with server.http() as http:
        response = http.post(ACTIVATE, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "MALFORMED_REQUEST"


def test_wrong_credentials_are_401_invalid_credentials(start_server: Callable[..., Any]) -> None:
    srv = start_server()
    with srv.http() as http:
        wrong_secret = activate(http, srv.root_access_key, "not-the-secret")
        unknown_key = activate(http, "KOSNOSUCHKEY00000000", "whatever")
    for response in (wrong_secret, unknown_key):
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "INVALID_CREDENTIALS" and body["error"] and body["message"]


def _from(address: str) -> httpx.HTTPTransport:
    return httpx.HTTPTransport(local_address=address)


def test_failed_activations_lock_a_key_for_the_failing_address_only(
        start_server: Callable[..., Any]) -> None:
    srv = start_server()
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.10")) as http:
        for _ in range(5):
            assert activate(http, srv.root_access_key, "wrong").status_code == 401
        limited = activate(http, srv.root_access_key, srv.root_secret_key)   # even the right one
    assert limited.status_code == 429
    assert limited.json()["retryAfter"] >= 1
    assert int(limited.headers["Retry-After"]) == limited.json()["retryAfter"]
    assert limited.json()["error"]
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.11")) as http:
        assert activate(http, srv.root_access_key, srv.root_secret_key).status_code == 200


def test_failures_on_other_keys_do_not_lock_out_a_key(start_server: Callable[..., Any]) -> None:
    """A neighbour behind the same address failing on its keys leaves this key usable."""
    srv = start_server()
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.30")) as http:
        for i in range(5):
            assert activate(http, f"KOSUNKNOWN{i:010d}", "wrong").status_code == 401
        assert activate(http, srv.root_access_key, srv.root_secret_key).status_code == 200


def test_an_address_failing_on_many_keys_waits_on_those_keys(
        start_server: Callable[..., Any]) -> None:
    srv = start_server("--activation-failures-per-address", "6")
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.32")) as http:
        for i in range(6):
            assert activate(http, f"KOSUNKNOWN{i:010d}", "wrong").status_code == 401
        assert activate(http, "KOSUNKNOWN0000000000", "wrong").status_code == 429
        assert activate(http, srv.root_access_key, srv.root_secret_key).status_code == 200


def test_a_key_failing_from_many_addresses_waits_for_those_addresses(
        start_server: Callable[..., Any]) -> None:
    srv = start_server("--activation-failures-per-key", "6")
    for i in range(6):   # six addresses, one failure each: none at its own limit
        with httpx.Client(base_url=srv.kos_url, transport=_from(f"127.0.0.{40 + i}")) as http:
            assert activate(http, srv.root_access_key, "wrong").status_code == 401
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.40")) as http:
        assert activate(http, srv.root_access_key, srv.root_secret_key).status_code == 429
    with httpx.Client(base_url=srv.kos_url, transport=_from("127.0.0.50")) as http:
        assert activate(http, srv.root_access_key, srv.root_secret_key).status_code == 200


def test_refresh_rotates_both_tokens(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        old = activate(http, *creds).json()
        response = http.post(f"/kos/v1/sessions/refresh/{old['sessionToken']}",
                             json={"refreshToken": old["refreshToken"]})
        assert response.status_code == 200
        new = response.json()
        assert new["sessionToken"] != old["sessionToken"]
        assert new["refreshToken"] != old["refreshToken"]
        assert new["expiresAt"] >= old["expiresAt"] and new["expires_at"] == new["expiresAt"]
        assert http.get(PROTECTED, headers=bearer(old["sessionToken"])).status_code == 401
        assert http.get(PROTECTED, headers=bearer(new["sessionToken"])).status_code == 200
        again = http.post(f"/kos/v1/sessions/refresh/{old['sessionToken']}",
                          json={"refreshToken": old["refreshToken"]})
        assert again.status_code == 404


def test_refresh_errors(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        session = activate(http, *creds).json()
        path = f"/kos/v1/sessions/refresh/{session['sessionToken']}"
        assert http.post(path, json={"refreshToken": "wrong"}).status_code == 401
        assert http.post(path, json={}).status_code == 400
        assert http.post(path, json={"refreshToken": 7}).status_code == 422
        assert http.post(path, content=b"{oops").status_code == 400
        assert http.post("/kos/v1/sessions/refresh/nosuchtoken",
                         json={"refreshToken": session["refreshToken"]}).status_code == 404
        assert http.delete(f"/kos/v1/sessions/deactivate/{session['sessionToken']}").status_code == 204
        ended = http.post(path, json={"refreshToken": session["refreshToken"]})
        assert ended.status_code == 401
        assert ended.json()["message"]


def test_deactivate(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        token = activate(http, *creds).json()["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 200
        assert http.delete(f"/kos/v1/sessions/deactivate/{token}").status_code == 204
        refused = http.get(PROTECTED, headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["message"]
        assert http.delete("/kos/v1/sessions/deactivate/nosuchtoken").status_code == 404


def test_deactivating_an_ended_session_is_not_found(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        token = activate(http, *creds).json()["sessionToken"]
        assert http.delete(f"/kos/v1/sessions/deactivate/{token}").status_code == 204
        again = http.delete(f"/kos/v1/sessions/deactivate/{token}")
        assert again.status_code == 404 and again.json()["message"]


def test_status(server: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        session = activate(http, *creds).json()
        response = http.get(f"/kos/v1/sessions/status/{session['sessionToken']}")
        assert response.status_code == 200
        body = response.json()
        assert body["isActive"] is True
        assert body["expiresAt"] == session["expiresAt"]
        assert body["createdAt"] and body["lastActiveAt"]
        assert "sessionToken" not in body and "refreshToken" not in body
        assert http.get("/kos/v1/sessions/status/nosuchtoken").status_code == 404
        assert http.get(f"/kos/v1/sessions/status/{'x' * 1000}").status_code == 404


def test_sessions_expire(start_server: Callable[..., Any]) -> None:
    srv = start_server("--session-lifetime", "1")
    with srv.http() as http:
        session = activate(http, srv.root_access_key, srv.root_secret_key).json()
        token = session["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 200
        time.sleep(1.5)
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 401
        assert http.get(f"/kos/v1/sessions/status/{token}").json()["isActive"] is False
        refreshed = http.post(f"/kos/v1/sessions/refresh/{token}",
                              json={"refreshToken": session["refreshToken"]})
        assert refreshed.status_code == 401


def test_refresh_extends_a_session(start_server: Callable[..., Any]) -> None:
    srv = start_server("--session-lifetime", "2")
    with srv.http() as http:
        session = activate(http, srv.root_access_key, srv.root_secret_key).json()
        time.sleep(1.2)
        new = http.post(f"/kos/v1/sessions/refresh/{session['sessionToken']}",
                        json={"refreshToken": session["refreshToken"]}).json()
        time.sleep(1.2)   # past the first expiry, within the refreshed one
        assert http.get(PROTECTED, headers=bearer(new["sessionToken"])).status_code == 200


def test_deleting_the_key_ends_its_sessions(server: Any, account: Any, creds: tuple[str, str]) -> None:
    with server.http() as http:
        token = activate(http, *creds).json()["sessionToken"]
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 200
        assert account.delete(f"/kos/v1/access_keys/{creds[0]}").status_code == 204
        assert http.get(PROTECTED, headers=bearer(token)).status_code == 401
