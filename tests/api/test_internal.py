"""The operator's API (accounts, users, MFA), bootstrap, the CLI, and the operational endpoints."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

REPO = Path(__file__).resolve().parents[2]
ACCOUNTS = "/internal/kos/v1/accounts"


def test_accounts_create_list_get(root: Any) -> None:
    created = root.post(ACCOUNTS, json={"name": "  Acme  "})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Acme" and body["account_id"].isdigit() and body["mfa_enabled"] is False
    assert body["account_id"] in {a["account_id"] for a in root.get(ACCOUNTS).json()}
    assert root.get(f"{ACCOUNTS}/{body['account_id']}").json()["name"] == "Acme"
    assert root.get(f"{ACCOUNTS}/999999999999").status_code == 404


@pytest.mark.parametrize("body, status", [
    ({}, 400), ({"name": ""}, 400), ({"name": "   "}, 400), ({"name": 3}, 422),
    ({"name": None}, 400), ({"name": "x" * 300}, 422),
])
def test_account_validation(root: Any, body: dict[str, Any], status: int) -> None:
    response = root.post(ACCOUNTS, json=body)
    assert response.status_code == status and response.json()["message"]


def test_users_create_and_list(server: Any, root: Any) -> None:
    account_id = root.post(ACCOUNTS, json={"name": "users"}).json()["account_id"]
    created = root.post(f"{ACCOUNTS}/{account_id}/users", json={"name": "alice", "admin": True})
    assert created.status_code == 201
    alice = created.json()
    assert alice["account_id"] == account_id and alice["admin"] is True
    assert alice["krn"] == f"krn:kos::{account_id}::user:{alice['kcid']}"
    assert alice["access_key"].startswith("KOS") and len(alice["secret_key"]) == 40
    assert alice["region"] == "In-Bangalore-1"
    bob = root.post(f"{ACCOUNTS}/{account_id}/users", json={"name": "bob"}).json()
    assert bob["admin"] is False
    users = root.get(f"{ACCOUNTS}/{account_id}/users").json()
    assert [u["kcid"] for u in users] == [alice["kcid"], bob["kcid"]]
    assert all("secret_key" not in u for u in users)
    assert server.activate(alice["access_key"], alice["secret_key"])["sessionToken"]


def test_users_of_an_unknown_account(root: Any) -> None:
    assert root.post(f"{ACCOUNTS}/999999999999/users", json={"name": "x"}).status_code == 404
    assert root.get(f"{ACCOUNTS}/999999999999/users").status_code == 404
    assert root.post(f"{ACCOUNTS}/999999999999/mfa").status_code == 404


@pytest.mark.parametrize("body, status", [
    ({}, 400), ({"name": 1}, 422), ({"name": "x", "admin": "yes"}, 422), ({"name": "x", "admin": 1}, 422),
])
def test_user_validation(root: Any, account: Any, body: dict[str, Any], status: int) -> None:
    response = root.post(f"{ACCOUNTS}/{account.account_id}/users", json=body)
    assert response.status_code == status


def test_admins_of_the_operator_account_are_operators(server: Any, root: Any) -> None:
    admin = root.post(f"{ACCOUNTS}/{root.account_id}/users", json={"name": "op2", "admin": True}).json()
    member = root.post(f"{ACCOUNTS}/{root.account_id}/users", json={"name": "op-member"}).json()
    assert admin["operator"] is True and member["operator"] is False
    with server.http() as http:
        for user, status in ((admin, 200), (member, 403)):
            token = server.activate(user["access_key"], user["secret_key"])["sessionToken"]
            response = http.get(ACCOUNTS, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status


def test_mfa_enable(root: Any, account: Any) -> None:
    path = f"{ACCOUNTS}/{account.account_id}/mfa"
    first = root.post(path).json()
    assert pyotp.TOTP(first["secret"]).now().isdigit()
    assert f"secret={first['secret']}" in first["otpauth_uri"]
    assert root.get(f"{ACCOUNTS}/{account.account_id}").json()["mfa_enabled"] is True
    assert root.post(path).json()["secret"] != first["secret"]   # re-enrolment


def test_internal_routes_are_for_the_operator_only(server: Any, account: Any, member: Any) -> None:
    calls = [("GET", ACCOUNTS), ("POST", ACCOUNTS), ("GET", f"{ACCOUNTS}/{account.account_id}"),
             ("GET", f"{ACCOUNTS}/{account.account_id}/users"),
             ("POST", f"{ACCOUNTS}/{account.account_id}/users"),
             ("POST", f"{ACCOUNTS}/{account.account_id}/mfa")]
    with server.http() as anonymous:
        for method, path in calls:
            unauthenticated = anonymous.request(method, path, json={"name": "x"})
            assert unauthenticated.status_code == 401 and unauthenticated.json()["message"]
            assert account.request(method, path, json={"name": "x"}).status_code == 403
            assert member.request(method, path, json={"name": "x"}).status_code == 403


# -- bootstrap ------------------------------------------------------------------------------------


def test_bootstrap_files(server: Any) -> None:
    path = server.data_dir / "root-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((server.data_dir / "master.key").stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert creds["access_key"] == server.root_access_key
    assert creds["secret_key"] == server.root_secret_key
    assert creds["account_id"] and creds["kcid"].startswith("kc-")


def test_generated_root_credentials_survive_a_restart(start_server: Callable[..., Any]) -> None:
    srv = start_server(env={"KOSHA_ROOT_ACCESS_KEY": "", "KOSHA_ROOT_SECRET_KEY": ""})
    creds = json.loads((srv.data_dir / "root-credentials.json").read_text())
    assert creds["access_key"].startswith("KOS") and len(creds["secret_key"]) == 40
    assert "secret key: (not shown" in srv.log()   # stderr is a log file here, not a terminal
    srv.restart()
    assert creds["secret_key"] not in srv.log()
    assert srv.activate(creds["access_key"], creds["secret_key"])["sessionToken"]


def test_secrets_are_encrypted_at_rest(server: Any, account: Any) -> None:
    import sqlite3
    with sqlite3.connect(server.data_dir / "kosha.db") as db:
        stored = [r[0] for r in db.execute("SELECT secret FROM access_keys")]
    assert account.secret_key not in stored and server.root_secret_key not in stored
    assert all(s.startswith("v2:") for s in stored)   # v2:<key id>:... (see services/crypto.py)


def test_master_key_from_the_environment(start_server: Callable[..., Any], tmp_path: Path) -> None:
    import base64
    key = base64.b64encode(os.urandom(32)).decode()
    srv = start_server(env={"KOSHA_MASTER_KEY": key})
    assert not (srv.data_dir / "master.key").exists()
    assert srv.activate(srv.root_access_key, srv.root_secret_key)


# -- the command line -----------------------------------------------------------------------------


def kosha(*args: str, data: Path, env: dict[str, str] | None = None) -> Any:
    result = subprocess.run([sys.executable, "-m", "kosha", *args, "--data", str(data)],
                            capture_output=True, text=True, timeout=60, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_cli_admin(tmp_path: Path, start_server: Callable[..., Any]) -> None:
    data = tmp_path / "data"
    assert kosha("admin", "migrate", data=data) == {"migrated": True}
    account = kosha("admin", "accounts", "create", "cli-co", data=data)
    assert account["name"] == "cli-co"
    assert account["account_id"] in {a["account_id"] for a in kosha("admin", "accounts", "list", data=data)}
    user = kosha("admin", "users", "create", account["account_id"], "carol", "--admin", data=data)
    assert user["is_admin"] is True and user["access_key"].startswith("KOS") and user["secret_key"]
    users = kosha("admin", "users", "list", account["account_id"], data=data)
    assert [u["kcid"] for u in users] == [user["kcid"]]
    mfa = kosha("admin", "mfa", "enable", account["account_id"], data=data)
    assert mfa["otpauth_uri"].startswith("otpauth://") and mfa["secret"]
    kosha("gc", data=data)
    kosha("lifecycle", "run", "--now", "2030-01-01T00:00:00Z", data=data)
    srv = start_server(data_dir=data)
    assert srv.activate(user["access_key"], user["secret_key"])["sessionToken"]


def test_cli_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kosha", "admin", "users", "create", "999",
                             "dave", "--data", str(tmp_path / "d")], capture_output=True,
                            text=True, timeout=60, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_cli_flags_read_the_environment() -> None:
    from kosha.cli import build_parser, settings_from
    env = {"KOSHA_PORT": "1234", "KOSHA_S3_PORT": "4321", "KOSHA_REGIONS": "R-1:t-9",
           "KOSHA_SESSION_LIFETIME": "60", "KOSHA_INSECURE_DEV_AUTH": "true",
           "KOSHA_DATA": "/tmp/somewhere", "KOSHA_MASTER_KEY": "a2V5"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = settings_from(build_parser().parse_args(["serve", "--port", "99"]))
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert settings.port == 99 and settings.s3_port == 4321
    assert settings.regions[0].name == "R-1" and settings.regions[0].tier == "t-9"
    assert settings.session_lifetime == 60 and settings.insecure_dev_auth is True
    assert str(settings.data_dir) == "/tmp/somewhere" and settings.master_key == "a2V5"


# -- operational endpoints --------------------------------------------------------------------------


def test_healthz(server: Any) -> None:
    response = httpx.get(f"{server.kos_url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_openapi_is_the_published_spec_plus_marked_extensions(server: Any) -> None:
    doc = httpx.get(f"{server.kos_url}/openapi.json").json()
    published = json.loads((REPO / "kosha" / "spec" / "kos-openapi.json").read_text())
    for path, operations in published["paths"].items():
        assert set(operations) <= set(doc["paths"][path])
    extension = doc["paths"]["/internal/kos/v1/accounts/{accountId}/users"]["post"]
    assert extension["x-kosha-extension"] is True
    upload = doc["paths"]["/kos/v1/buckets/{bucketId}/objects"]["put"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["x-kosha-extension"] is True
    params = doc["paths"]["/kos/v1/buckets/{bucketId}/objects"]["get"]["parameters"]
    assert {"max_keys", "continuation_token"} <= {p["name"] for p in params if p.get("x-kosha-extension")}


def test_docs_and_metrics(server: Any) -> None:
    docs = httpx.get(f"{server.kos_url}/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert docs.headers["content-type"].startswith("text/html")
    httpx.get(f"{server.kos_url}/kos/v1/access_keys")   # one failed authentication at least
    metrics = httpx.get(f"{server.kos_url}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'kosha_auth_total{result="failed"}' in metrics.text
    assert "kosha_uptime_seconds" in metrics.text
