"""`/internal/kos/v1/policy`: CRUD, attach/detach, validation, and the effect on members."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

POLICY = "/internal/kos/v1/policy"
POLICIES = "/internal/kos/v1/policies"
KEYS = "/kos/v1/access_keys"
LIST_KEYS = {"effect": "Allow", "actions": ["kos:ListAccessKeys"], "resources": ["*"]}


def name() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def create(root: Any, account_id: str, statements: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    response = root.post(POLICY, json={"name": name(), "accountId": account_id,
                                       "statements": statements or [LIST_KEYS], **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def link(root: Any, verb: str, krns: list[str], *users: Any) -> Any:
    return root.post(f"{POLICY}/{verb}", json={
        "policyKRNs": krns, "users": [{"kcid": u.kcid, "krn": u.krn, "accountId": u.account_id}
                                     for u in users]})


def test_create_answers_a_policy_response(root: Any, account: Any) -> None:
    body = create(root, account.account_id, conditions=[{"note": "kept"}])
    assert body["policyKRN"] == f"krn:kos::{account.account_id}::policy:{body['_id']}"
    assert body["accountId"] == account.account_id
    assert body["CreationDate"].endswith("Z")
    assert body["statements"] == [LIST_KEYS]
    assert body["conditions"] == [{"note": "kept"}]
    assert body["users"] == []


def test_get_by_krn_or_id_list_update_delete(root: Any, account: Any) -> None:
    body = create(root, account.account_id)
    krn = body["policyKRN"]
    by_krn = root.get(f"{POLICY}/{krn}")
    assert by_krn.status_code == 200 and by_krn.json()["_id"] == body["_id"]
    assert root.get(f"{POLICY}/{body['_id']}").json()["policyKRN"] == krn
    listing = root.get(POLICIES, params={"accountId": account.account_id}).json()
    assert [p["policyKRN"] for p in listing] == [krn]
    assert krn in {p["policyKRN"] for p in root.get(POLICIES).json()}
    assert [p["_id"] for p in root.get(POLICIES, params={"name": body["name"]}).json()] == [body["_id"]]
    deny = {"effect": "Deny", "actions": ["kos:*"], "resources": ["*"]}
    updated = root.put(f"{POLICY}/{krn}", json={"statements": [deny], "name": "renamed-" + body["_id"]})
    assert updated.status_code == 200
    assert updated.json()["statements"] == [deny] and updated.json()["name"].startswith("renamed-")
    assert updated.json()["CreationDate"] == body["CreationDate"]
    assert root.delete(f"{POLICY}/{krn}").status_code == 204
    assert root.get(f"{POLICY}/{krn}").status_code == 404
    assert root.delete(f"{POLICY}/{krn}").status_code == 404


def test_aws_spellings_are_normalised(root: Any, account: Any) -> None:
    body = create(root, account.account_id,
                  [{"Effect": "allow", "Action": "kos:GetObject", "Sid": "s1"}])
    assert body["statements"] == [{"Sid": "s1", "effect": "Allow", "actions": ["kos:GetObject"],
                                   "resources": ["*"]}]


def test_policies_belong_to_the_operators_account_by_default(root: Any) -> None:
    body = root.post(POLICY, json={"name": name(), "statements": [LIST_KEYS]}).json()
    assert body["accountId"] == root.account_id
    root.delete(f"{POLICY}/{body['policyKRN']}")


def test_duplicate_names_conflict_within_an_account(root: Any, account: Any,
                                                   new_account: Callable[..., Any]) -> None:
    body = create(root, account.account_id)
    again = root.post(POLICY, json={"name": body["name"], "accountId": account.account_id,
                                    "statements": [LIST_KEYS]})
    assert again.status_code == 409
    other = new_account()
    assert root.post(POLICY, json={"name": body["name"], "accountId": other.account_id,
                                   "statements": [LIST_KEYS]}).status_code == 201
    second = create(root, account.account_id)
    rename = root.put(f"{POLICY}/{second['policyKRN']}", json={"name": body["name"]})
    assert rename.status_code == 409


@pytest.mark.parametrize("body, status", [
    ({"statements": [LIST_KEYS]}, 400),
    ({"name": "n"}, 400),
    ({"name": 5, "statements": [LIST_KEYS]}, 422),
    ({"name": "n", "statements": "everything"}, 422),
    ({"name": "n", "statements": []}, 422),
    ({"name": "n", "statements": ["Allow"]}, 422),
    ({"name": "n", "statements": [{"effect": "Maybe", "actions": ["kos:*"]}]}, 422),
    ({"name": "n", "statements": [{"effect": "Allow", "actions": []}]}, 422),
    ({"name": "n", "statements": [{"effect": "Allow"}]}, 422),
    ({"name": "n", "statements": [{"effect": "Allow", "actions": [3]}]}, 422),
    ({"name": "n", "statements": [{"effect": "Allow", "actions": ["s3:GetObject"]}]}, 422),
    ({"name": "n", "statements": [{"effect": "Allow", "actions": ["kos:*"], "resources": [""]}]}, 422),
    ({"name": "n", "statements": [LIST_KEYS], "conditions": {"ip": "x"}}, 422),
    ({"name": "n", "statements": [LIST_KEYS], "conditions": ["x"]}, 422),
    ({"name": "  ", "statements": [LIST_KEYS]}, 422),
    ({"name": "n" * 300, "statements": [LIST_KEYS]}, 422),
    ({"name": "n", "statements": [LIST_KEYS], "accountId": 7}, 422),
])
def test_create_validation(root: Any, body: dict[str, Any], status: int) -> None:
    response = root.post(POLICY, json=body)
    assert response.status_code == status, response.text
    assert response.json()["message"]


def test_malformed_json(root: Any) -> None:
    assert root.post(POLICY, content=b"{nope").status_code == 400
    assert root.post(POLICY, content=b"[1]").status_code == 422


def test_unknown_account_or_policy(root: Any, account: Any) -> None:
    assert root.post(POLICY, json={"name": "n", "accountId": "999999999999",
                                   "statements": [LIST_KEYS]}).status_code == 404
    missing = f"krn:kos::{account.account_id}::policy:nosuchpolicy"
    assert root.get(f"{POLICY}/{missing}").status_code == 404
    assert root.put(f"{POLICY}/{missing}", json={"name": "x"}).status_code == 404
    assert root.delete(f"{POLICY}/nosuchpolicy").status_code == 404


def test_update_validation(root: Any, account: Any) -> None:
    krn = create(root, account.account_id)["policyKRN"]
    assert root.put(f"{POLICY}/{krn}", json={"statements": []}).status_code == 422
    assert root.put(f"{POLICY}/{krn}", json={"name": ["x"]}).status_code == 422
    assert root.put(f"{POLICY}/{krn}", content=b"nope").status_code == 400


def test_attach_grants_and_detach_revokes(root: Any, member: Any) -> None:
    assert member.get(KEYS).status_code == 403
    krn = create(root, member.account_id)["policyKRN"]
    attached = link(root, "attach", [krn], member)
    assert attached.status_code == 200
    assert attached.json()["policyKRN"] == krn and attached.json()["users"] == [member.kcid]
    assert link(root, "attach", [krn], member).status_code == 200   # idempotent
    assert member.get(KEYS).status_code == 200
    assert root.get(f"{POLICY}/{krn}").json()["users"] == [member.kcid]
    detached = link(root, "detach", [krn], member)
    assert detached.status_code == 200 and detached.json()["users"] == []
    assert member.get(KEYS).status_code == 403
    assert link(root, "detach", [krn], member).status_code == 200


def test_deny_wins(root: Any, member: Any) -> None:
    allow_all = create(root, member.account_id, [{"effect": "Allow", "actions": ["kos:*"]}])
    deny = create(root, member.account_id,
                  [{"effect": "Deny", "actions": ["kos:listaccesskeys"], "resources": ["*"]}])
    assert link(root, "attach", [allow_all["policyKRN"], deny["policyKRN"]], member).status_code == 200
    assert member.get(KEYS).status_code == 403
    assert member.post(KEYS, json={}).status_code == 201
    assert root.delete(f"{POLICY}/{deny['policyKRN']}").status_code == 204
    assert member.get(KEYS).status_code == 200


def test_resources_limit_an_allow(root: Any, member: Any) -> None:
    someone_else = f"krn:kos::{member.account_id}::user:kc-someone-else"
    krn = create(root, member.account_id, [{"effect": "Allow", "actions": ["kos:ListAccessKeys"],
                                            "resources": [someone_else]}])["policyKRN"]
    link(root, "attach", [krn], member)
    assert member.get(KEYS).status_code == 403
    root.put(f"{POLICY}/{krn}", json={"statements": [{
        "effect": "Allow", "actions": ["kos:List*"], "resources": [f"krn:kos::*::user:{member.kcid}"]}]})
    assert member.get(KEYS).status_code == 200


def test_conditional_allows_are_not_granted(root: Any, member: Any) -> None:
    krn = create(root, member.account_id, conditions=[{"ip": "10.0.0.0/8"}])["policyKRN"]
    link(root, "attach", [krn], member)
    assert member.get(KEYS).status_code == 403


def test_allow_under_a_condition_block_is_granted_when_it_holds(root: Any, member: Any) -> None:
    krn = create(root, member.account_id,
                 conditions=[{"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}])["policyKRN"]
    link(root, "attach", [krn], member)
    assert member.get(KEYS).status_code == 200


def test_allow_under_a_condition_block_that_fails_is_not_granted(root: Any, member: Any) -> None:
    krn = create(root, member.account_id,
                 conditions=[{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}])["policyKRN"]
    link(root, "attach", [krn], member)
    assert member.get(KEYS).status_code == 403


def test_deny_applies_only_where_its_statement_condition_holds(root: Any, member: Any) -> None:
    deny_plain = {"effect": "Deny", "actions": ["kos:ListAccessKeys"], "resources": ["*"],
                  "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    krn = create(root, member.account_id, [LIST_KEYS, deny_plain])["policyKRN"]
    link(root, "attach", [krn], member)
    assert member.get(KEYS).status_code == 200        # plain HTTP: the Deny does not apply
    root.put(f"{POLICY}/{krn}", json={"statements": [
        LIST_KEYS, {**deny_plain, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    assert member.get(KEYS).status_code == 403


def test_malformed_condition_block_is_refused(root: Any, account: Any) -> None:
    response = root.post(POLICY, json={"name": name(), "accountId": account.account_id,
                                       "statements": [LIST_KEYS],
                                       "conditions": [{"IpAddress": {"aws:SourceIp": "nope"}}]})
    assert response.status_code == 422


def test_attach_errors(root: Any, account: Any, member: Any, new_account: Callable[..., Any]) -> None:
    krn = create(root, account.account_id)["policyKRN"]
    stranger = new_account()
    assert link(root, "attach", [krn], stranger).status_code == 400
    missing = root.post(f"{POLICY}/attach", json={"policyKRNs": [krn], "users": [{"kcid": "kc-nobody"}]})
    assert missing.status_code == 404
    wrong_account = root.post(f"{POLICY}/attach", json={
        "policyKRNs": [krn], "users": [{"kcid": member.kcid, "accountId": stranger.account_id}]})
    assert wrong_account.status_code in (404, 422)
    assert link(root, "attach", [krn + "x"], member).status_code == 404
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": [krn]}).status_code == 400
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": [], "users": [{"kcid": member.kcid}]}
                     ).status_code == 400
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": krn, "users": []}).status_code == 422
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": [krn], "users": ["kc"]}).status_code == 422
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": [krn], "users": [{}]}).status_code == 422
    assert root.post(f"{POLICY}/attach", json={"policyKRNs": [krn], "users": [
        {"krn": "krn:kos::1::bucket:x"}]}).status_code == 422
    by_krn_only = root.post(f"{POLICY}/attach", json={"policyKRNs": [krn], "users": [{"krn": member.krn}]})
    assert by_krn_only.status_code == 200 and by_krn_only.json()["users"] == [member.kcid]


def test_attach_several(root: Any, account: Any, member: Any) -> None:
    krns = [create(root, account.account_id)["policyKRN"] for _ in range(2)]
    response = link(root, "attach", krns, member, account)
    assert response.status_code == 200
    assert [p["policyKRN"] for p in response.json()["policies"]] == krns
    assert all(sorted(p["users"]) == sorted([member.kcid, account.kcid])
               for p in response.json()["policies"])


def test_policy_routes_are_for_the_operator_only(server: Any, account: Any, member: Any) -> None:
    krn = f"krn:kos::{account.account_id}::policy:x"
    calls = [("GET", POLICY, None), ("POST", POLICY, {"name": "n", "statements": [LIST_KEYS]}),
             ("GET", f"{POLICY}/{krn}", None), ("PUT", f"{POLICY}/{krn}", {"name": "n"}),
             ("DELETE", f"{POLICY}/{krn}", None),
             ("POST", f"{POLICY}/attach", {"policyKRNs": [krn], "users": [{"kcid": member.kcid}]}),
             ("POST", f"{POLICY}/detach", {"policyKRNs": [krn], "users": [{"kcid": member.kcid}]})]
    with server.http() as anonymous:
        for method, path, body in calls:
            assert anonymous.request(method, path, json=body).status_code == 401, path
            assert account.request(method, path, json=body).status_code == 403, path
            assert member.request(method, path, json=body).status_code == 403, path
            assert account.request(method, path, content=b"{bad").status_code == 403, path


def test_get_policy_answers_the_one_policy_named_by_krn_or_name(root: Any, account: Any) -> None:
    body = create(root, account.account_id)
    by_krn = root.get(POLICY, params={"policyKRN": body["policyKRN"]})
    by_name = root.get(POLICY, params={"name": body["name"], "accountId": account.account_id})
    assert by_krn.status_code == by_name.status_code == 200
    assert by_krn.json()["_id"] == by_name.json()["_id"] == body["_id"]


def test_get_policy_without_a_selector_is_refused_with_the_way_to_list(root: Any) -> None:
    answer = root.get(POLICY)
    assert answer.status_code == 400 and "/internal/kos/v1/policies" in answer.json()["message"]


def test_get_policy_of_an_unknown_name_is_not_found(root: Any, account: Any) -> None:
    answer = root.get(POLICY, params={"name": "no-such-policy", "accountId": account.account_id})
    assert answer.status_code == 404
