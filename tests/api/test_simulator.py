"""`POST /kos/v1/account/simulate`: the policy simulator answers what real requests get, and
names the statement that decides."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosha.services.authz import compile_policies, normalize_statements

from .kos_helpers import API, create_bucket, download, expect, put_object, upload

SIMULATE = "/kos/v1/account/simulate"
POLICIES = "/kos/v1/account/policies"
HARMLESS = [{"effect": "Deny", "actions": ["kos:CreateBucket"], "resources": ["*"]}]


@dataclass
class Tenant:
    admin: Any
    member: Any
    bucket: str
    krn: str
    plain: str        # a policy without conditions, attached to the member
    conditional: str  # a policy with conditions (its Allows never grant), attached too


def _policy(admin: Any, **extra: Any) -> str:
    body = {"name": f"p-{uuid.uuid4().hex[:10]}", "statements": HARMLESS, **extra}
    return str(expect(admin.post(POLICIES, json=body), 201)["policyKRN"])


@pytest.fixture(scope="module")
def tenant(server: Any, root: Any) -> Iterator[Tenant]:
    account_id = server.new_account(root)
    admin, member = server.new_user(root, account_id, admin=True), server.new_user(root, account_id)
    created = create_bucket(admin)
    for key in ("docs/a.txt", "top.txt"):
        put_object(admin, created["bucketName"], key, b"content")
    plain, conditional = _policy(admin), _policy(admin, conditions=[{"ip": "10.0.0.0/8"}])
    expect(admin.post(f"{POLICIES}/attach", json={"policyKRNs": [plain, conditional],
                                                   "users": [member.kcid]}), 200)
    yield Tenant(admin, member, created["bucketName"], created["krn"], plain, conditional)
    admin.close()
    member.close()


def set_statements(t: Tenant, plain: list[dict[str, Any]],
                   conditional: list[dict[str, Any]] | None = None) -> None:
    """The statements of the member's two policies (tests share the tenant)."""
    for krn, statements in ((t.plain, plain), (t.conditional, conditional or HARMLESS)):
        expect(t.admin.put(f"{POLICIES}/{krn}", json={"statements": statements}), 200)


def simulate(client: Any, **body: Any) -> httpx.Response:
    return client.post(SIMULATE, json=body)


# -- the simulator answers what real requests get --------------------------------------------

def _probes(t: Tenant) -> list[tuple[str, str, Callable[[], httpx.Response]]]:
    """(action, resource, the real request by the member that needs exactly that)."""
    m, b = t.member, t.bucket
    return [
        ("kos:GetObject", f"{t.krn}/docs/a.txt", lambda: download(m, b, "docs/a.txt")),
        ("kos:GetObject", f"{t.krn}/top.txt", lambda: download(m, b, "top.txt")),
        ("kos:ListBucket", t.krn, lambda: m.get(f"{API}/buckets/{b}/objects")),
        ("kos:PutObject", f"{t.krn}/docs/new.txt", lambda: upload(m, b, {"new.txt": b"x"}, "docs/")),
        ("kos:GetBucket", t.krn, lambda: m.get(f"{API}/buckets/{b}")),
        ("kos:ListAccessKeys", m.krn, lambda: m.get(f"{API}/access_keys")),
    ]


_ACTIONS = st.sampled_from(["*", "kos:*", "kos:Get*", "kos:GetObject", "kos:getobject",
                            "kos:ListBucket", "kos:List*", "kos:PutObject", "kos:GetBucket",
                            "kos:DeleteObject"])
_RESOURCES = st.sampled_from(["*", "{b}", "{b}/*", "{b}*", "{b}/docs/*", "{b}/docs/a.txt",
                              "{b}/top.txt", "{u}", "krn:kos::{a}::user:*", "krn:kos:*:{a}:*",
                              "krn:kos:*:000000000000:*"])
_STATEMENTS = st.lists(st.fixed_dictionaries({
    "effect": st.sampled_from(["Allow", "Deny"]),
    "actions": st.lists(_ACTIONS, min_size=1, max_size=2),
    "resources": st.lists(_RESOURCES, min_size=1, max_size=2)}), min_size=1, max_size=4)


def _concrete(statements: list[dict[str, Any]], t: Tenant) -> list[dict[str, Any]]:
    account = t.member.account_id
    return [{**s, "resources": [r.format(b=t.krn, u=t.member.krn, a=account) for r in s["resources"]]}
            for s in statements]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain=_STATEMENTS, conditional=_STATEMENTS)
def test_the_simulator_agrees_with_real_requests(tenant: Tenant, plain: list[dict[str, Any]],
                                                 conditional: list[dict[str, Any]]) -> None:
    set_statements(tenant, _concrete(plain, tenant), _concrete(conditional, tenant))
    for action, resource, request in _probes(tenant):
        answer = expect(simulate(tenant.admin, kcid=tenant.member.kcid, action=action,
                                 resource=resource), 200)
        real = request()
        assert real.status_code in (200, 201, 403), real.text
        assert answer["allowed"] == (real.status_code != 403), (action, resource, answer)


# -- what it answers ---------------------------------------------------------------------------

def test_an_explicit_deny_is_named(tenant: Tenant) -> None:
    statements = [{"effect": "Allow", "actions": ["kos:*"], "resources": ["*"]},
                  {"effect": "Deny", "actions": ["kos:GetObject"], "resources": [f"{tenant.krn}/docs/*"]}]
    set_statements(tenant, statements)
    body = expect(simulate(tenant.admin, kcid=tenant.member.kcid, action="kos:GetObject",
                           bucket=tenant.bucket, key="docs/a.txt"), 200)
    assert (body["allowed"], body["decision"]) == (False, "explicit-deny")
    assert body["resource"] == f"{tenant.krn}/docs/a.txt" and body["reason"]
    assert body["statement"] == {"policyKRN": tenant.plain, "policyName": body["statement"]["policyName"],
                                 "index": 1, "effect": "Deny", "actions": ["kos:GetObject"],
                                 "resources": [f"{tenant.krn}/docs/*"]}
    allowed = expect(simulate(tenant.admin, kcid=tenant.member.kcid, action="kos:GetObject",
                              bucket=tenant.bucket, key="top.txt"), 200)
    assert (allowed["allowed"], allowed["decision"]) == (True, "allow")
    assert allowed["statement"]["index"] == 0 and allowed["statement"]["effect"] == "Allow"


def test_implicit_deny_admin_and_other_account(tenant: Tenant) -> None:
    set_statements(tenant, [{"effect": "Allow", "actions": ["kos:ListBucket"], "resources": [tenant.krn]}])
    nothing = expect(simulate(tenant.admin, kcid=tenant.member.kcid, action="kos:PutObject",
                              resource=f"{tenant.krn}/k"), 200)
    assert (nothing["allowed"], nothing["decision"], nothing["statement"]) == (False, "implicit-deny", None)
    admin = expect(simulate(tenant.admin, action="kos:DeleteBucket", bucket=tenant.bucket), 200)
    assert (admin["allowed"], admin["decision"], admin["kcid"]) == (True, "admin", tenant.admin.kcid)
    foreign = expect(simulate(tenant.admin, kcid=tenant.member.kcid, action="kos:ListBucket",
                              resource="krn:kos:In-Bangalore-1:999999999999:kc-x:bucket:b"), 200)
    assert (foreign["allowed"], foreign["decision"]) == (False, "other-account")


def test_simulator_errors(tenant: Tenant, new_account: Any) -> None:
    stranger = new_account()
    assert simulate(tenant.member, action="kos:GetObject", resource=tenant.krn).status_code == 403
    assert simulate(tenant.admin, kcid=stranger.kcid, action="kos:GetObject",
                    resource=tenant.krn).status_code == 404
    foreign_bucket = create_bucket(stranger)["bucketName"]
    assert simulate(tenant.admin, action="kos:GetObject", bucket=foreign_bucket).status_code == 404
    assert simulate(tenant.admin, action="GetObject", resource=tenant.krn).status_code == 422
    assert simulate(tenant.admin, action="kos:GetObject", resource="photos").status_code == 422
    assert simulate(tenant.admin, action="kos:GetObject").status_code == 400
    assert simulate(tenant.admin, action="kos:GetObject", bucket=7).status_code == 422


# -- the evaluator names the right statement ----------------------------------------------------

def _glob(pattern: str, text: str, fold: bool) -> bool:
    """`*` matches any run; a reference matcher independent of the evaluator's regexes."""
    if fold:
        pattern, text = pattern.lower(), text.lower()
    head, *rest = pattern.split("*")
    if not rest:
        return pattern == text
    if not text.startswith(head):
        return False
    at = len(head)
    for middle in rest[:-1]:
        found = text.find(middle, at)
        if found < 0:
            return False
        at = found + len(middle)
    tail = rest[-1]
    return len(text) - at >= len(tail) and text.endswith(tail)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    return (any(_glob(a, action, True) for a in statement["actions"])
            and any(_glob(r, resource, False) for r in statement["resources"]))


_PIECES = st.sampled_from(["kos:GetObject", "kos:PutObject", "kos:*", "*", "kos:Get*", "kos:*Object"])
_RES = st.sampled_from(["*", "krn:a", "krn:a/*", "krn:a/x*", "krn:a/x/y", "krn:*/y", "krn:b/*"])


@given(policies=st.lists(st.tuples(st.lists(st.fixed_dictionaries({
           "effect": st.sampled_from(["Allow", "Deny"]),
           "actions": st.lists(_PIECES, min_size=1, max_size=3),
           "resources": st.lists(_RES, min_size=1, max_size=3)}), min_size=1, max_size=5),
           st.booleans()), min_size=1, max_size=3),
       action=st.sampled_from(["kos:GetObject", "kos:PutObject", "kos:DeleteObject"]),
       resource=st.sampled_from(["krn:a", "krn:a/x/y", "krn:a/xz", "krn:b/q", "krn:c/y"]))
def test_the_deciding_statement_is_the_first_that_applies(
        policies: list[tuple[list[dict[str, Any]], bool]], action: str, resource: str) -> None:
    stored = [(normalize_statements(s), [{"c": 1}] if conditional else [], f"krn:p{i}", f"p{i}")
              for i, (s, conditional) in enumerate(policies)]
    verdict = compile_policies(stored).explain(action, resource)
    candidates = [(effect, krn, i) for effect in ("Deny", "Allow")
                  for statements, conditions, krn, _name in stored
                  for i, s in enumerate(statements)
                  if s["effect"] == effect and not (effect == "Allow" and conditions)
                  and _applies(s, action, resource)]
    if not candidates:
        assert (verdict.decision, verdict.statement) == ("implicit-deny", None)
        return
    effect, krn, index = candidates[0]
    assert verdict.allowed == (effect == "Allow")
    assert verdict.statement is not None
    assert (verdict.statement.effect, verdict.statement.policy_krn, verdict.statement.index) == \
        (effect, krn, index)
