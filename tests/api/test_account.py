"""`/kos/v1/account...` (Kosha's extension): who am I, and an admin's own users and policies."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "/kos/v1/account"


def test_whoami_describes_an_admin(account: Any) -> None:
    me = account.get(ACCOUNT)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["account_id"] == account.account_id and body["account_name"].startswith("acct-")
    assert (body["kcid"], body["krn"], body["user_name"]) == (account.kcid, account.krn, account.name)
    assert (body["admin"], body["operator"], body["mfa_enabled"]) == (True, False, False)
    assert body["access_key"] == account.access_key


def test_whoami_describes_a_member_and_the_operator(member: Any, root: Any) -> None:
    assert member.get(ACCOUNT).json()["admin"] is False
    operator = root.get(ACCOUNT).json()
    assert operator["operator"] is True and operator["account_id"] == "000000000000"


def test_whoami_needs_credentials(server: Any) -> None:
    with server.http() as anonymous:
        assert anonymous.get(ACCOUNT).status_code == 401


# -- users ------------------------------------------------------------------------------------

USERS = ACCOUNT + "/users"
POLICIES = ACCOUNT + "/policies"
LIST_KEYS = {"effect": "Allow", "actions": ["kos:ListAccessKeys"], "resources": ["*"]}


def new_policy(client: Any, statements: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    response = client.post(POLICIES, json={"name": f"p-{uuid.uuid4().hex[:10]}",
                                           "statements": statements or [LIST_KEYS], **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def attach(client: Any, verb: str, krns: list[str], *kcids: str) -> Any:
    return client.post(f"{POLICIES}/{verb}", json={"policyKRNs": krns, "users": list(kcids)})


def test_an_admin_lists_its_accounts_users_with_their_policies(account: Any, member: Any) -> None:
    krn = new_policy(account)["policyKRN"]
    assert attach(account, "attach", [krn], member.kcid).status_code == 200
    listed = {u["kcid"]: u for u in account.get(USERS).json()}
    assert set(listed) == {account.kcid, member.kcid}
    assert listed[member.kcid]["policies"] == [krn] and listed[member.kcid]["admin"] is False
    assert listed[account.kcid]["krn"] == account.krn and listed[account.kcid]["created_at"]


def test_an_admin_creates_a_user_whose_key_works(account: Any, server: Any) -> None:
    created = account.post(USERS, json={"name": "builder"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["admin"], body["policies"]) == ("builder", False, [])
    token = server.activate(body["access_key"], body["secret_key"])["sessionToken"]
    with server.http(headers={"Authorization": f"Bearer {token}"}) as newcomer:
        me = newcomer.get(ACCOUNT).json()
    assert (me["kcid"], me["account_id"]) == (body["kcid"], account.account_id)
    assert account.post(USERS, json={"name": "boss", "admin": True}).json()["admin"] is True


def test_promoting_a_member_takes_effect_at_once(account: Any, member: Any) -> None:
    assert member.get(USERS).status_code == 403
    promoted = account.put(f"{USERS}/{member.kcid}", json={"admin": True})
    assert promoted.status_code == 200 and promoted.json()["admin"] is True
    assert member.get(USERS).status_code == 200
    assert account.put(f"{USERS}/{member.kcid}", json={"admin": False}).json()["admin"] is False
    assert member.get(USERS).status_code == 403


def test_an_admin_cannot_demote_or_delete_itself(account: Any) -> None:
    assert account.put(f"{USERS}/{account.kcid}", json={"admin": False}).status_code == 409
    assert account.delete(f"{USERS}/{account.kcid}").status_code == 409
    assert account.get(USERS).status_code == 200


def test_deleting_a_user_ends_its_keys_sessions_and_policies(
        account: Any, member: Any, s3_client: Any) -> None:
    krn = new_policy(account)["policyKRN"]
    attach(account, "attach", [krn], member.kcid)
    assert member.get("/kos/v1/access_keys").status_code == 200
    assert account.delete(f"{USERS}/{member.kcid}").status_code == 204
    stale = httpx.get(f"{member.server.kos_url}{ACCOUNT}",
                      headers={"Authorization": f"Bearer {member.session_token}"})
    assert stale.status_code == 401
    with pytest.raises(ClientError) as refused:
        s3_client(member.access_key, member.secret_key).list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert account.get(f"{POLICIES}/{krn}").json()["users"] == []
    assert member.kcid not in {u["kcid"] for u in account.get(USERS).json()}
    assert account.delete(f"{USERS}/{member.kcid}").status_code == 404


def test_members_may_not_manage_users(account: Any, member: Any) -> None:
    assert member.get(USERS).status_code == 403
    assert member.post(USERS, json={"name": "x"}).status_code == 403
    assert member.put(f"{USERS}/{account.kcid}", json={"admin": False}).status_code == 403
    assert member.delete(f"{USERS}/{account.kcid}").status_code == 403


def test_another_accounts_users_are_404(account: Any, new_account: Any, root: Any) -> None:
    stranger = new_account()
    assert account.put(f"{USERS}/{stranger.kcid}", json={"admin": False}).status_code == 404
    assert account.delete(f"{USERS}/{stranger.kcid}").status_code == 404
    assert stranger.kcid not in {u["kcid"] for u in account.get(USERS).json()}
    assert root.delete(f"{USERS}/{stranger.kcid}").status_code == 404   # the operator too, here


def test_bad_user_input_is_422_or_400(account: Any, member: Any) -> None:
    assert account.post(USERS, json={"name": 5}).status_code == 422
    assert account.post(USERS, json={"name": "x", "admin": "yes"}).status_code == 422
    assert account.post(USERS, json={}).status_code == 400
    assert account.put(f"{USERS}/{member.kcid}", json={"admin": "yes"}).status_code == 422
    assert account.put(f"{USERS}/{member.kcid}", json={}).status_code == 400


def test_internal_routes_stay_operator_only_for_account_admins(account: Any) -> None:
    own = account.account_id
    refused = [
        account.get("/internal/kos/v1/accounts"),
        account.post("/internal/kos/v1/accounts", json={"name": "mine"}),
        account.get(f"/internal/kos/v1/accounts/{own}"),
        account.get(f"/internal/kos/v1/accounts/{own}/users"),
        account.post(f"/internal/kos/v1/accounts/{own}/users", json={"name": "x"}),
        account.post(f"/internal/kos/v1/accounts/{own}/mfa"),
        account.get("/internal/kos/v1/policy"),
        account.get("/internal/kos/v1/policies"),
        account.post("/internal/kos/v1/policy", json={"name": "x", "statements": [LIST_KEYS]}),
        account.post("/internal/kos/v1/policy/attach", json={"policyKRNs": ["p"], "users": []}),
        account.delete("/internal/kos/v1/access_keys_all"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)


# -- policies ---------------------------------------------------------------------------------

def test_an_admin_manages_its_policies(account: Any, root: Any) -> None:
    created = new_policy(account, conditions=[])
    krn = created["policyKRN"]
    assert created["accountId"] == account.account_id and created["statements"] == [LIST_KEYS]
    assert [p["policyKRN"] for p in account.get(POLICIES).json()] == [krn]
    assert account.get(f"{POLICIES}/{krn}").json()["name"] == created["name"]
    deny = {"effect": "Deny", "actions": ["kos:*"], "resources": ["*"]}
    updated = account.put(f"{POLICIES}/{krn}", json={"statements": [deny]})
    assert updated.status_code == 200 and updated.json()["statements"] == [deny]
    assert root.get(f"/internal/kos/v1/policy/{krn}").json()["statements"] == [deny]
    assert account.delete(f"{POLICIES}/{krn}").status_code == 204
    assert account.get(f"{POLICIES}/{krn}").status_code == 404


def test_attaching_grants_and_detaching_revokes(account: Any, member: Any) -> None:
    krn = new_policy(account)["policyKRN"]
    assert member.get("/kos/v1/access_keys").status_code == 403
    attached = attach(account, "attach", [krn], member.kcid)
    assert attached.status_code == 200 and attached.json()["policies"][0]["users"] == [member.kcid]
    assert attached.json()["message"]
    assert member.get("/kos/v1/access_keys").status_code == 200
    assert attach(account, "detach", [krn], member.kcid).json()["policies"][0]["users"] == []
    assert member.get("/kos/v1/access_keys").status_code == 403


def test_validate_normalises_or_names_the_bad_field(account: Any) -> None:
    good = account.post(f"{POLICIES}/validate", json={"statements": [
        {"Effect": "allow", "Action": "kos:GetObject", "Resource": "krn:kos:*"}]})
    assert good.status_code == 200
    assert good.json() == {"valid": True, "statements": [
        {"effect": "Allow", "actions": ["kos:GetObject"], "resources": ["krn:kos:*"]}]}
    bad = account.post(f"{POLICIES}/validate", json={"statements": [LIST_KEYS, {"effect": "Maybe"}]})
    assert bad.status_code == 422 and "statements[1].effect" in bad.json()["message"]
    assert account.post(f"{POLICIES}/validate", json={}).status_code == 422
    assert account.post(f"{POLICIES}/validate", json={"statements": [LIST_KEYS],
                                                     "conditions": "x"}).status_code == 422


def test_policy_errors(account: Any, new_account: Any) -> None:
    created = new_policy(account)
    dup = account.post(POLICIES, json={"name": created["name"], "statements": [LIST_KEYS]})
    assert dup.status_code == 409
    assert account.post(POLICIES, json={"name": "x", "statements": []}).status_code == 422
    assert account.post(POLICIES, json={"name": "x"}).status_code == 400
    assert attach(account, "attach", [created["policyKRN"]], "kc-nobody").status_code == 404
    assert account.post(f"{POLICIES}/attach", json={"policyKRNs": [created["policyKRN"]],
                                                    "users": [5]}).status_code == 422
    stranger = new_account()
    assert attach(account, "attach", [created["policyKRN"]], stranger.kcid).status_code == 404


def test_another_accounts_policies_are_404(account: Any, new_account: Any) -> None:
    krn = new_policy(account)["policyKRN"]
    stranger = new_account()
    assert stranger.get(f"{POLICIES}/{krn}").status_code == 404
    assert stranger.put(f"{POLICIES}/{krn}", json={"name": "mine"}).status_code == 404
    assert stranger.delete(f"{POLICIES}/{krn}").status_code == 404
    assert attach(stranger, "attach", [krn], stranger.kcid).status_code == 404
    assert krn not in {p["policyKRN"] for p in stranger.get(POLICIES).json()}
    assert account.get(f"{POLICIES}/{krn}").status_code == 200


def test_members_may_not_manage_policies(account: Any, member: Any) -> None:
    krn = new_policy(account)["policyKRN"]
    assert member.get(POLICIES).status_code == 403
    assert member.post(POLICIES, json={"name": "x", "statements": [LIST_KEYS]}).status_code == 403
    assert member.get(f"{POLICIES}/{krn}").status_code == 403
    assert member.delete(f"{POLICIES}/{krn}").status_code == 403
    assert attach(member, "attach", [krn], member.kcid).status_code == 403
    assert member.post(f"{POLICIES}/validate", json={"statements": [LIST_KEYS]}).status_code == 403
