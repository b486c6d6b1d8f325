"""KOS REST authentication: bearer sessions, JWTs, customer headers, insecure dev auth."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PROTECTED = "/kos/v1/access_keys"
JWT_SECRET = "jwt-test-secret-" + "0123456789abcdef" * 4


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def operator_identity(srv: Any) -> dict[str, str]:
    return dict(json.loads((srv.data_dir / "root-credentials.json").read_text()))


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not-a-session"},
    {"Authorization": "Basic dXNlcjpwYXNz"}, {"x-session-token": "nope"},
    {"Authorization": "Bearer a.b.c"}, {"K-Customer-ID": "kc-whoever"},
])
def test_refused_without_valid_credentials(server: Any, headers: dict[str, str]) -> None:
    with server.http() as http:
        response = http.get(PROTECTED, headers=headers)
    assert response.status_code == 401
    assert response.json()["message"]


def test_customer_headers_must_agree_with_the_token(server: Any, account: Any, member: Any) -> None:
    token = account.session_token
    with server.http() as http:
        agreeing = {"K-Customer-ID": account.kcid, "x-account-id": account.account_id}
        assert http.get(PROTECTED, headers={**bearer(token), **agreeing}).status_code == 200
        for headers in ({"K-Customer-ID": member.kcid}, {"x-account-id": "999999999999"},
                        {"K-Customer-ID": account.kcid, "x-account-id": "1"}):
            response = http.get(PROTECTED, headers={**bearer(token), **headers})
            assert response.status_code == 403 and response.json()["message"]


# -- JWTs ---------------------------------------------------------------------------------------------


@pytest.fixture
def jwt_server(start_server: Callable[..., Any], tmp_path: Path) -> Any:
    """A server trusting an HS256 secret and an RS256 and an ES256 key from a JWKS file."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = []
    for kid, key, alg in (("rsa-1", rsa_key, "RS256"), ("ec-1", ec_key, "ES256")):
        algorithm = jwt.get_algorithm_by_name(alg)
        public = json.loads(algorithm.to_jwk(key.public_key()))
        keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": keys}))
    srv = start_server("--jwt-secret", JWT_SECRET, "--jwks-file", str(jwks))
    srv.keys = {"RS256": ("rsa-1", rsa_key), "ES256": ("ec-1", ec_key)}
    return srv


def claims(srv: Any, **extra: Any) -> dict[str, Any]:
    me = operator_identity(srv)
    return {"sub": me["kcid"], "account_id": me["account_id"], "exp": int(time.time()) + 300, **extra}


def call(srv: Any, token: str) -> int:
    with srv.http() as http:
        return int(http.get(PROTECTED, headers=bearer(token)).status_code)


def test_hs256_jwt(jwt_server: Any) -> None:
    assert call(jwt_server, jwt.encode(claims(jwt_server), JWT_SECRET, algorithm="HS256")) == 200
    me = operator_identity(jwt_server)
    by_kcid = {"kcid": me["kcid"], "exp": int(time.time()) + 60}
    assert call(jwt_server, jwt.encode(by_kcid, JWT_SECRET, algorithm="HS256")) == 200
    with jwt_server.http() as http:
        response = http.get(PROTECTED, headers={"x-session-token": jwt.encode(
            claims(jwt_server), JWT_SECRET, algorithm="HS256")})
        assert response.status_code == 200


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwks_jwt(jwt_server: Any, alg: str) -> None:
    kid, key = jwt_server.keys[alg]
    assert call(jwt_server, jwt.encode(claims(jwt_server), key, algorithm=alg,
                                       headers={"kid": kid})) == 200
    assert call(jwt_server, jwt.encode(claims(jwt_server), key, algorithm=alg)) == 200  # no kid


@pytest.mark.parametrize("make", [
    lambda s: jwt.encode(claims(s), "some-other-secret-" + "x" * 32, algorithm="HS256"),
    lambda s: jwt.encode(claims(s, exp=int(time.time()) - 3600), JWT_SECRET, algorithm="HS256"),
    lambda s: jwt.encode(claims(s, nbf=int(time.time()) + 3600), JWT_SECRET, algorithm="HS256"),
    lambda s: jwt.encode(claims(s, sub="kc-nobody"), JWT_SECRET, algorithm="HS256"),
    lambda s: jwt.encode(claims(s, account_id="123456789012"), JWT_SECRET, algorithm="HS256"),
    lambda s: jwt.encode({"account_id": "1", "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256"),
    lambda s: jwt.encode(claims(s), None, algorithm="none"),
    lambda s: jwt.encode(claims(s), rsa.generate_private_key(public_exponent=65537, key_size=2048),
                         algorithm="RS256", headers={"kid": "rsa-1"}),
    lambda s: jwt.encode(claims(s), JWT_SECRET, algorithm="HS512"),
    lambda s: jwt.encode(claims(s), JWT_SECRET, algorithm="HS256")[:-4] + "AAAA",
    lambda s: "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
])
def test_bad_jwts_are_refused(jwt_server: Any, make: Callable[[Any], str]) -> None:
    assert call(jwt_server, make(jwt_server)) == 401


def test_jwts_are_refused_when_not_configured(server: Any) -> None:
    token = jwt.encode(claims(server), JWT_SECRET, algorithm="HS256")
    assert call(server, token) == 401


def test_jwt_principal_is_the_named_user(jwt_server: Any) -> None:
    root = jwt_server.operator()
    account_id = root.post("/internal/kos/v1/accounts", json={"name": "jwt"}).json()["account_id"]
    user = root.post(f"/internal/kos/v1/accounts/{account_id}/users",
                     json={"name": "u", "admin": True}).json()
    token = jwt.encode({"sub": user["kcid"], "exp": int(time.time()) + 60}, JWT_SECRET, algorithm="HS256")
    with jwt_server.http() as http:
        keys = http.get(PROTECTED, headers=bearer(token)).json()
        assert [k["access_key"] for k in keys] == [user["access_key"]]
        assert http.get("/internal/kos/v1/accounts", headers=bearer(token)).status_code == 403
    root.close()


# -- insecure dev auth --------------------------------------------------------------------------------


def test_insecure_dev_auth_trusts_the_customer_header(start_server: Callable[..., Any]) -> None:
    srv = start_server("--insecure-dev-auth")
    me = operator_identity(srv)
    with srv.http() as http:
        assert http.get(PROTECTED, headers={"K-Customer-ID": me["kcid"]}).status_code == 200
        assert http.get("/internal/kos/v1/accounts", headers={"K-Customer-ID": me["kcid"]}
                        ).status_code == 200
        assert http.get(PROTECTED, headers={"K-Customer-ID": "kc-nobody"}).status_code == 401
        assert http.get(PROTECTED).status_code == 401
        assert http.get(PROTECTED, headers={"K-Customer-ID": me["kcid"],
                                            "x-account-id": "1"}).status_code == 403
        assert http.get(PROTECTED, headers={"K-Customer-ID": me["kcid"],
                                            "Authorization": "Bearer junk"}).status_code == 401


def test_clock_offset_expires_sessions(start_server: Callable[..., Any]) -> None:
    """A server whose clock runs ahead (KOSHA_CLOCK_OFFSET) sees a fresh session as expired."""
    srv = start_server("--session-lifetime", "60")
    token = srv.activate(srv.root_access_key, srv.root_secret_key)["sessionToken"]
    assert call(srv, token) == 200
    srv.extra_env["KOSHA_CLOCK_OFFSET"] = "120"
    srv.restart()
    assert call(srv, token) == 401
