"""The console's security model over plain HTTP: cookie flags, CSRF, CSP, the asset whitelist."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@pytest.fixture
def login(server: Any, console_user: dict[str, Any]) -> httpx.Response:
    answer = httpx.post(f"{server.kos_url}/console/api/login", json={
        "accessKey": console_user["access_key"], "secretKey": console_user["secret_key"]})
    assert answer.status_code == 200, answer.text
    return answer


def _cookie(login: httpx.Response) -> str:
    return login.cookies["kosha_session"]


def test_login_cookie_is_httponly_strict_and_not_secure_over_http(login: httpx.Response) -> None:
    header = login.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert "secure" not in header.replace("samesite", "")


@pytest.fixture(scope="module")
def behind_tls(server_factory: Any) -> Any:
    """A server whose public URL is https, as behind a TLS-terminating proxy (it speaks http)."""
    return server_factory("--public-url", "https://kosha.example")


def _login_at(server: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.kos_url}/console/api/login", headers=headers, json={
        "accessKey": server.root_access_key, "secretKey": server.root_secret_key})


def test_login_cookie_is_secure_when_the_public_url_is_https(behind_tls: Any) -> None:
    answer = _login_at(behind_tls)
    assert answer.status_code == 200, answer.text
    assert "secure" in answer.headers["set-cookie"].lower().replace("samesite", "")


def test_a_sign_in_from_the_public_urls_origin_is_accepted(behind_tls: Any) -> None:
    assert _login_at(behind_tls, Origin="https://kosha.example").status_code == 200


def test_a_sign_in_from_another_origin_is_refused_behind_tls(behind_tls: Any) -> None:
    assert _login_at(behind_tls, Origin="https://evil.example").status_code == 403


def test_login_answers_a_csrf_token_and_no_session_token(login: httpx.Response) -> None:
    body = login.json()
    assert set(body) == {"csrfToken", "expiresAt"}
    assert _cookie(login) not in login.text


@pytest.mark.parametrize("path", ["/console", "/console/static/app.js", "/console/static/nope.js"])
def test_console_answers_carry_csp_nosniff_and_no_referrer(server: Any, path: str) -> None:
    answer = httpx.get(server.kos_url + path)
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_login_errors_carry_csp_and_a_readable_message(server: Any) -> None:
    answer = httpx.post(f"{server.kos_url}/console/api/login",
                        json={"accessKey": "KOSNOSUCHKEY000000000", "secretKey": "x" * 40})
    assert answer.status_code == 401
    assert answer.headers["content-security-policy"] == CSP
    assert answer.json()["message"]


def test_cookie_without_csrf_header_is_refused(server: Any, login: httpx.Response) -> None:
    answer = httpx.get(f"{server.kos_url}/kos/v1/buckets", cookies={"kosha_session": _cookie(login)})
    assert answer.status_code == 403
    assert answer.json()["code"] == "CSRF_TOKEN_INVALID"


def test_cookie_with_a_wrong_csrf_header_is_refused(server: Any, login: httpx.Response) -> None:
    answer = httpx.get(f"{server.kos_url}/kos/v1/buckets", cookies={"kosha_session": _cookie(login)},
                       headers={"X-CSRF-Token": "0" * 64})
    assert answer.status_code == 403


def test_cookie_with_its_csrf_header_is_accepted(server: Any, login: httpx.Response) -> None:
    answer = httpx.get(f"{server.kos_url}/kos/v1/buckets", cookies={"kosha_session": _cookie(login)},
                       headers={"X-CSRF-Token": login.json()["csrfToken"]})
    assert answer.status_code == 200


def test_a_cross_site_form_post_cannot_act(server: Any, login: httpx.Response) -> None:
    """What a form on another site can send: the cookie (were SameSite ignored), a form body, no
    custom header."""
    answer = httpx.post(f"{server.kos_url}/kos/v1/buckets", cookies={"kosha_session": _cookie(login)},
                        data={"name": "forged-bucket"},
                        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    listing = httpx.get(f"{server.kos_url}/kos/v1/buckets", cookies={"kosha_session": _cookie(login)},
                        headers={"X-CSRF-Token": login.json()["csrfToken"]}).json()
    assert all(b["name"] != "forged-bucket" for b in listing["items"])


def test_a_cross_site_sign_in_is_refused(server: Any, console_user: dict[str, Any]) -> None:
    answer = httpx.post(f"{server.kos_url}/console/api/login", headers={"Origin": "https://evil.example"},
                        json={"accessKey": console_user["access_key"], "secretKey": console_user["secret_key"]})
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_sign_in_needs_a_json_body(server: Any, console_user: dict[str, Any]) -> None:
    answer = httpx.post(f"{server.kos_url}/console/api/login", headers={"Content-Type": "text/plain"},
                        content='{"accessKey": "%s", "secretKey": "%s"}' % (
                            console_user["access_key"], console_user["secret_key"]))
    assert answer.status_code == 415


def test_session_route_answers_the_same_csrf_token_after_a_reload(server: Any, login: httpx.Response) -> None:
    answer = httpx.get(f"{server.kos_url}/console/api/session", cookies={"kosha_session": _cookie(login)})
    assert answer.status_code == 200
    assert answer.json()["csrfToken"] == login.json()["csrfToken"]


def test_session_route_without_a_cookie_is_401(server: Any) -> None:
    assert httpx.get(f"{server.kos_url}/console/api/session").status_code == 401


def test_logout_needs_the_csrf_header(server: Any, login: httpx.Response) -> None:
    answer = httpx.post(f"{server.kos_url}/console/api/logout", cookies={"kosha_session": _cookie(login)})
    assert answer.status_code == 403


def test_logout_ends_the_session_and_clears_the_cookie(server: Any, login: httpx.Response) -> None:
    cookies = {"kosha_session": _cookie(login)}
    csrf = {"X-CSRF-Token": login.json()["csrfToken"]}
    answer = httpx.post(f"{server.kos_url}/console/api/logout", cookies=cookies, headers=csrf)
    assert answer.status_code == 204
    assert 'kosha_session=""' in answer.headers["set-cookie"] or "max-age=0" in answer.headers["set-cookie"].lower()
    assert httpx.get(f"{server.kos_url}/kos/v1/buckets", cookies=cookies, headers=csrf).status_code == 401


def test_bearer_clients_ignore_the_cookie(server: Any, account: Any) -> None:
    answer = account.get("/kos/v1/buckets", headers={"Cookie": "kosha_session=garbage"})
    assert answer.status_code == 200


@pytest.mark.parametrize("name", ["..%2F..%2Fconfig.py", "assets.py", "%2e%2e", "index.html%00"])
def test_only_whitelisted_assets_are_served(server: Any, name: str) -> None:
    answer = httpx.get(f"{server.kos_url}/console/static/{name}")
    assert answer.status_code == 404


def test_assets_revalidate_with_their_etag(server: Any) -> None:
    first = httpx.get(f"{server.kos_url}/console/static/style.css")
    again = httpx.get(f"{server.kos_url}/console/static/style.css",
                      headers={"If-None-Match": first.headers["etag"]})
    assert first.status_code == 200 and again.status_code == 304


def test_the_page_has_no_inline_script_or_style(server: Any) -> None:
    html = httpx.get(f"{server.kos_url}/console").text
    assert "<script>" not in html and "<style" not in html and "style=" not in html
