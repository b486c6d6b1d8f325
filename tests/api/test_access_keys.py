"""Access keys: create, list, delete (with MFA), delete-all, tenancy, and their use on S3."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError

KEYS = "/kos/v1/access_keys"
LISTED = {"access_key", "access_key_id", "key_name", "region", "tier", "status", "created_date",
          "created_at"}


def create(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post(KEYS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def listed(client: Any) -> dict[str, dict[str, Any]]:
    response = client.get(KEYS)
    assert response.status_code == 200, response.text
    return {k["access_key"]: k for k in response.json()}


def allow(root: Any, user: Any, *actions: str, resources: list[str] | None = None) -> str:
    """Attach a fresh policy allowing `actions` to `user`; its KRN."""
    statement: dict[str, Any] = {"effect": "Allow", "actions": list(actions)}
    if resources is not None:
        statement["resources"] = resources
    policy = root.post("/internal/kos/v1/policy", json={
        "name": f"allow-{user.kcid}-{len(actions)}-{id(statement)}", "accountId": user.account_id,
        "statements": [statement]}).json()
    attached = root.post("/internal/kos/v1/policy/attach", json={
        "policyKRNs": [policy["policyKRN"]], "users": [{"kcid": user.kcid}]})
    assert attached.status_code == 200, attached.text
    return str(policy["policyKRN"])


def test_create_answers_the_key_and_secret_once(account: Any) -> None:
    body = create(account, key_name="ci", region="In-Bangalore-1")
    assert re.fullmatch(r"KOS[A-Z0-9]{17}", body["access_key"])
    assert len(body["secret_key"]) == 40
    assert body["access_key_id"] == body["access_key"]
    assert body["key_name"] == "ci" and body["region"] == "In-Bangalore-1"
    assert body["tier"] == "tier-1" and body["status"] == "Active"
    assert body["created_date"] == body["created_at"]
    entry = listed(account)[body["access_key"]]
    assert LISTED <= entry.keys() and "secret_key" not in entry and "secret" not in entry
    assert entry["key_name"] == "ci"


def test_region_and_tier(account: Any) -> None:
    assert create(account)["region"] == "In-Bangalore-1"
    hyderabad = create(account, region="In-Hyderabad-1")
    assert (hyderabad["region"], hyderabad["tier"]) == ("In-Hyderabad-1", "tier-2")
    by_header = account.post(KEYS, json={"key_name": "h"},
                             headers={"x-region-id": "In-Hyderabad-1", "x-tier": "tier-2"})
    assert by_header.status_code == 201 and by_header.json()["tier"] == "tier-2"
    assert create(account, region="in-hyderabad-1")["region"] == "In-Hyderabad-1"


def test_unknown_region_lists_the_known_ones(account: Any) -> None:
    response = account.post(KEYS, json={"key_name": "x", "region": "Mars-1"})
    assert response.status_code == 400
    assert "In-Bangalore-1" in response.json()["message"]
    assert "In-Hyderabad-1" in response.json()["message"]


def test_tier_must_be_the_regions(account: Any) -> None:
    response = account.post(KEYS, json={"region": "In-Bangalore-1", "tier": "tier-2"})
    assert response.status_code == 400 and "tier" in response.json()["message"]


@pytest.mark.parametrize("body, status", [
    (b"{broken", 400), (b"[]", 422), (b'{"key_name": 5}', 422), (b'{"region": ["x"]}', 422),
    (b'{"key_name": "' + b"n" * 300 + b'"}', 422), (b'{"tier": false}', 422),
])
def test_create_rejects_bad_bodies(account: Any, body: bytes, status: int) -> None:
    response = account.post(KEYS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["message"]


def test_oversized_body_is_refused(account: Any) -> None:
    response = account.post(KEYS, content=b'{"key_name": "' + b"x" * (2 << 20) + b'"}')
    assert response.status_code in (400, 413)


def test_delete(account: Any) -> None:
    key = create(account)["access_key"]
    assert account.delete(f"{KEYS}/{key}").status_code == 204
    assert key not in listed(account)
    assert account.delete(f"{KEYS}/{key}").status_code == 404
    assert account.delete(f"{KEYS}/KOSNOSUCHKEY00000000").status_code == 404


def test_tenants_never_see_each_others_keys(account: Any, new_account: Callable[..., Any]) -> None:
    other = new_account()
    key = create(account)["access_key"]
    assert key not in listed(other)
    assert other.delete(f"{KEYS}/{key}").status_code == 404
    assert key in listed(account)


def test_members_need_a_policy_and_see_only_their_own_keys(root: Any, account: Any,
                                                           member: Any) -> None:
    assert member.get(KEYS).status_code == 403
    assert member.post(KEYS, json={}).status_code == 403
    allow(root, member, "kos:ListAccessKeys", "kos:CreateAccessKey", "kos:DeleteAccessKey")
    mine = create(member)["access_key"]
    admins = create(account)["access_key"]
    seen = listed(member)
    assert mine in seen and member.access_key in seen and admins not in seen
    assert {mine, admins, member.access_key} <= listed(account).keys()
    assert member.delete(f"{KEYS}/{admins}").status_code == 404
    assert member.delete(f"{KEYS}/{mine}").status_code == 204
    assert account.delete(f"{KEYS}/{member.access_key}").status_code == 204


def test_mfa_guards_deletion(root: Any, account: Any) -> None:
    key = create(account)["access_key"]
    enabled = root.post(f"/internal/kos/v1/accounts/{account.account_id}/mfa")
    assert enabled.status_code == 200
    totp = pyotp.TOTP(enabled.json()["secret"])
    assert enabled.json()["otpauth_uri"].startswith("otpauth://totp/")
    missing = account.delete(f"{KEYS}/{key}")
    assert missing.status_code == 400 and "otp" in missing.json()["message"]
    wrong = account.request("DELETE", f"{KEYS}/{key}",
                            json={"otp": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 403
    assert account.request("DELETE", f"{KEYS}/{key}", json={"otp": 123456}).status_code == 422
    assert account.request("DELETE", f"{KEYS}/{key}", json={"otp": totp.now()}).status_code == 204
    other = create(account)["access_key"]
    assert account.delete(f"{KEYS}/{other}", params={"otp": totp.now()}).status_code == 204


def test_without_mfa_an_otp_is_ignored(account: Any) -> None:
    key = create(account)["access_key"]
    assert account.request("DELETE", f"{KEYS}/{key}", json={"otp": "999999"}).status_code == 204


def test_deleting_a_key_stops_it_on_s3(account: Any, s3_client: Callable[..., Any]) -> None:
    body = create(account)
    s3 = s3_client(body["access_key"], body["secret_key"])
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert account.delete(f"{KEYS}/{body['access_key']}").status_code == 204
    with pytest.raises(ClientError) as refused:
        s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_wrong_secret_on_s3(account: Any, s3_client: Callable[..., Any]) -> None:
    body = create(account)
    with pytest.raises(ClientError) as refused:
        s3_client(body["access_key"], "x" * 40).list_buckets()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


# -- delete all (operator) ----------------------------------------------------------------------

ALL = "/internal/kos/v1/access_keys_all"


def test_delete_all_is_for_the_operator_only(server: Any, account: Any, member: Any) -> None:
    with server.http() as anonymous:
        assert anonymous.delete(ALL).status_code == 401
    assert account.delete(ALL, params={"account_id": account.account_id}).status_code == 403
    assert member.delete(ALL).status_code == 403
    assert account.get(KEYS).status_code == 200


def test_delete_all_of_an_account(server: Any, root: Any, account: Any, member: Any) -> None:
    create(account)
    assert root.delete(ALL, params={"account_id": account.account_id}).status_code == 204
    with server.http() as http:
        assert http.get(KEYS, headers={"Authorization": f"Bearer {account.session_token}"}
                        ).status_code == 401
        assert http.get(KEYS, headers={"Authorization": f"Bearer {member.session_token}"}
                        ).status_code == 401
    assert root.delete(ALL, params={"account_id": "999999999999"}).status_code == 404


def test_delete_all_of_one_user(root: Any, account: Any, member: Any) -> None:
    kept = create(account)["access_key"]
    assert root.delete(ALL, params={"account_id": account.account_id,
                                    "kcid": member.kcid}).status_code == 204
    keys = listed(account)
    assert kept in keys and member.access_key not in keys


def test_delete_all_of_the_operators_own_account_spares_the_key_in_use(
        start_server: Callable[..., Any]) -> None:
    srv = start_server()
    root = srv.operator()
    spare = create(root)["access_key"]
    assert spare in listed(root)
    assert root.delete(ALL).status_code == 204
    assert set(listed(root)) == {srv.root_access_key}
    root.close()
