"""Revocations seen by every process: three server processes on one store (SQLite, and the
machine's PostgreSQL: every test runs on both); a change made through the first must hold on the others within the bound
docs/scaling.md states (1 s; a poll of the cache generation every 0.1 s).

Each check warms the other processes' caches first (the credential or permission works there),
then revokes through the first process and polls the others until the old access fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import KoshaServer
from tests.postgres_db import fresh_database

BOUND = 1.0
REGION = "In-Bangalore-1"
API = "/kos/v1"


def start_trio(data_dir: Path, *flags: str) -> list[KoshaServer]:
    servers = []
    for tag in ("a", "b", "c"):
        instance = KoshaServer(data_dir, *flags)
        instance.log_path = data_dir.parent / f"{tag}-server.log"
        servers.append(instance.start())  # one after the other: the first bootstraps the store
    return servers


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def trio(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[KoshaServer]]:
    """Three processes on one SQLite data directory, or on one PostgreSQL database."""
    if request.param == "sqlite":
        servers = start_trio(tmp_path_factory.mktemp("revocation") / "data")
        yield servers
        for instance in servers:
            instance.stop()
        return
    with fresh_database() as url:
        servers = start_trio(tmp_path_factory.mktemp("revocation-pg") / "data",
                             "--database-url", url)
        yield servers
        for instance in servers:
            instance.stop()


# -- clients ----------------------------------------------------------------------------------

def bearer(server: KoshaServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.kos_url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def activate(server: KoshaServer, key: str, secret: str) -> dict[str, Any]:
    response = httpx.post(f"{server.kos_url}{API}/sessions/activate", timeout=30,
                          json={"accessKey": key, "secretKey": secret})
    assert response.status_code == 200, response.text
    return dict(response.json())


_HTTP = httpx.Client(timeout=30)  # kept connections: a poll costs one request, no handshake


def s3_status(server: KoshaServer, key: str | None, secret: str | None, path: str = "/") -> int:
    """Status of a GET on the S3 port, signed with `key` (anonymous when None)."""
    url = f"{server.s3_url}{path}"
    headers: dict[str, str] = {}
    if key is not None:
        request = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        SigV4Auth(Credentials(key, secret), "s3", REGION).add_auth(request)
        headers = dict(request.headers.items())
    return _HTTP.get(url, headers=headers).status_code


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


class Tenant:
    """An account with an admin user, reachable through any of the three processes."""

    def __init__(self, servers: list[KoshaServer]) -> None:
        self.servers = servers
        root = activate(servers[0], servers[0].root_access_key, servers[0].root_secret_key)
        self.root = bearer(servers[0], root["sessionToken"])
        self.account_id = ok(self.root.post("/internal/kos/v1/accounts",
                                            json={"name": f"acct-{uuid.uuid4().hex[:8]}"}), 201)["account_id"]
        self.admin_key, self.admin_secret, self.admin_kcid = self.user(admin=True)
        self.admin = bearer(servers[0], activate(servers[0], self.admin_key, self.admin_secret)["sessionToken"])

    def user(self, admin: bool = False) -> tuple[str, str, str]:
        body = ok(self.root.post(f"/internal/kos/v1/accounts/{self.account_id}/users",
                                 json={"name": f"u-{uuid.uuid4().hex[:8]}", "admin": admin}), 201)
        return body["access_key"], body["secret_key"], body["kcid"]

    def bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:16]}"
        ok(self.admin.post(f"{API}/buckets", json={"name": name}), 201)
        return name


def seen_everywhere(servers: list[KoshaServer], revoked: Callable[[KoshaServer], bool]) -> float:
    """Seconds until `revoked(server)` holds on every server (polled); fails past 3 x BOUND."""
    started = time.monotonic()
    pending = list(servers)
    while pending:
        pending = [s for s in pending if not revoked(s)]
        assert time.monotonic() - started < 3 * BOUND, "revocation not seen in time"
    return time.monotonic() - started


def deleted_key_trials(servers: list[KoshaServer], trials: int) -> list[float]:
    tenant = Tenant(servers)
    others = servers[1:]
    delays = []
    for _ in range(trials):
        body = ok(tenant.admin.post(f"{API}/access_keys", json={"key_name": "k"}), 201)
        key, secret = body.get("access_key") or body["accessKey"], body.get("secret_key") or body["secretKey"]
        for server in others:  # warm: the key signs on every process
            assert s3_status(server, key, secret) == 200
        ok(tenant.admin.delete(f"{API}/access_keys/{key}"), 204)
        delays.append(seen_everywhere(others, lambda s, k=key, p=secret: s3_status(s, k, p) == 403))
    return delays


# -- access keys ------------------------------------------------------------------------------

def test_a_deleted_access_key_stops_signing_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    delays = deleted_key_trials(trio, 40)
    assert max(delays) <= BOUND, sorted(delays)[-5:]


def test_a_new_access_key_signs_at_once_on_every_process(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    for server in trio[1:]:   # a lookup of a key that does not exist yet is remembered briefly
        assert s3_status(server, "KOSNOSUCHKEY0000000", "x" * 40) == 403
    body = ok(tenant.admin.post(f"{API}/access_keys", json={"key_name": "k"}), 201)
    key, secret = body.get("access_key") or body["accessKey"], body.get("secret_key") or body["secretKey"]
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, key, secret) == 200) <= BOUND


# -- sessions ---------------------------------------------------------------------------------

def test_a_deactivated_session_fails_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    token = activate(trio[0], tenant.admin_key, tenant.admin_secret)["sessionToken"]
    for server in trio[1:]:
        ok(bearer(server, token).get(f"{API}/buckets"))
    ok(httpx.delete(f"{trio[0].kos_url}{API}/sessions/deactivate/{token}"), 204)
    assert seen_everywhere(trio[1:], lambda s: bearer(s, token).get(f"{API}/buckets").status_code == 401) <= BOUND


def test_a_refreshed_session_s_old_token_fails_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    session = activate(trio[0], tenant.admin_key, tenant.admin_secret)
    token = session["sessionToken"]
    for server in trio[1:]:
        ok(bearer(server, token).get(f"{API}/buckets"))
    ok(httpx.post(f"{trio[0].kos_url}{API}/sessions/refresh/{token}",
                  json={"refreshToken": session["refreshToken"]}))
    assert seen_everywhere(trio[1:], lambda s: bearer(s, token).get(f"{API}/buckets").status_code == 401) <= BOUND


def test_a_removed_user_s_key_fails_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    key, secret, kcid = tenant.user(admin=True)
    for server in trio[1:]:
        assert s3_status(server, key, secret) == 200
    ok(tenant.admin.delete(f"{API}/account/users/{kcid}"), 204)
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, key, secret) == 403) <= BOUND


# -- policies ---------------------------------------------------------------------------------

def test_a_detached_policy_stops_granting_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    bucket = tenant.bucket()
    key, secret, kcid = tenant.user()
    policy = ok(tenant.admin.post(f"{API}/account/policies", json={
        "name": f"p-{uuid.uuid4().hex[:8]}",
        "statements": [{"effect": "Allow", "actions": ["kos:ListBucket"], "resources": ["*"]}]}), 201)
    krn = policy["policyKRN"]
    ok(tenant.admin.post(f"{API}/account/policies/attach", json={"policyKRNs": [krn], "users": [kcid]}))
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, key, secret, f"/{bucket}") == 200) <= BOUND
    ok(tenant.admin.post(f"{API}/account/policies/detach", json={"policyKRNs": [krn], "users": [kcid]}))
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, key, secret, f"/{bucket}") == 403) <= BOUND


# -- buckets ----------------------------------------------------------------------------------

def test_a_bucket_made_private_refuses_anonymous_reads_on_every_process_within_the_bound(
        trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    bucket = tenant.bucket()
    ok(tenant.admin.put(f"{API}/buckets/{bucket}", json={"anonymous_access": True}))
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, None, None, f"/{bucket}") == 200) <= BOUND
    ok(tenant.admin.put(f"{API}/buckets/{bucket}", json={"anonymous_access": False}))
    assert seen_everywhere(trio[1:], lambda s: s3_status(s, None, None, f"/{bucket}") == 403) <= BOUND


def test_a_bucket_policy_change_holds_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    bucket = tenant.bucket()
    for server in trio[1:]:
        assert s3_status(server, tenant.admin_key, tenant.admin_secret, f"/{bucket}") == 200
    ok(tenant.admin.post(f"{API}/buckets/policy/{bucket}", json={"s3_read_write_ips": ["10.9.8.7"]}), 201)
    assert seen_everywhere(
        trio[1:], lambda s: s3_status(s, tenant.admin_key, tenant.admin_secret, f"/{bucket}") == 403) <= BOUND


def test_a_versioning_switch_is_seen_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    bucket = tenant.bucket()
    path = f"/{bucket}?versioning"
    for server in trio[1:]:
        assert s3_status(server, tenant.admin_key, tenant.admin_secret, path) == 200
    ok(tenant.admin.put(f"{API}/buckets/{bucket}", json={"versioning": True}))

    def enabled(server: KoshaServer) -> bool:
        url = f"{server.s3_url}{path}"
        request = AWSRequest(method="PUT", url=f"{server.s3_url}/{bucket}/k",
                             headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, data=b"x")
        SigV4Auth(Credentials(tenant.admin_key, tenant.admin_secret), "s3", REGION).add_auth(request)
        answer = httpx.put(request.url, headers=dict(request.headers.items()), content=b"x", timeout=30)
        assert answer.status_code == 200, (url, answer.text)
        return answer.headers.get("x-amz-version-id", "null") != "null"

    assert seen_everywhere(trio[1:], enabled) <= BOUND


def test_a_deleted_bucket_is_gone_on_every_process_within_the_bound(trio: list[KoshaServer]) -> None:
    tenant = Tenant(trio)
    bucket = tenant.bucket()
    for server in trio[1:]:
        assert s3_status(server, tenant.admin_key, tenant.admin_secret, f"/{bucket}") == 200
    ok(tenant.admin.delete(f"{API}/buckets/{bucket}"), 204)
    assert seen_everywhere(
        trio[1:], lambda s: s3_status(s, tenant.admin_key, tenant.admin_secret, f"/{bucket}") == 404) <= BOUND


# -- failed activations -----------------------------------------------------------------------

def test_failed_activation_limits_count_across_processes(trio: list[KoshaServer]) -> None:
    """The default limit is 5 failures per key and address: spread over three processes, the
    sixth attempt is refused wherever it lands, even with the right secret."""
    tenant = Tenant(trio)
    key, secret, _kcid = tenant.user(admin=True)
    statuses = [httpx.post(f"{trio[i % 3].kos_url}{API}/sessions/activate", timeout=30,
                           json={"accessKey": key, "secretKey": "wrong"}).status_code for i in range(5)]
    assert statuses == [401] * 5
    for server in trio:
        refused = httpx.post(f"{server.kos_url}{API}/sessions/activate", timeout=30,
                             json={"accessKey": key, "secretKey": secret})
        assert refused.status_code == 429, refused.text
        assert 1 <= refused.json()["retryAfter"] <= 60
