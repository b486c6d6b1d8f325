"""The authorizer: the policy language, its evaluation, and `Authorizer` on a real database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kosha.config import Settings
from kosha.errors import Forbidden, Unauthenticated, Unprocessable
from kosha.services.accounts import SYSTEM
from kosha.services.authz import (ACTIONS, account_of, compile_policies, normalize_conditions,
                                  normalize_statements)
from kosha.services.container import Kosha
from kosha.services.principal import ANONYMOUS, Principal

BUCKET = "krn:kos:In-Bangalore-1:111111111111:kc-a:bucket:photos"
OTHER_BUCKET = "krn:kos:In-Bangalore-1:111111111111:kc-a:bucket:private"


def decide(statements: list[dict[str, Any]], action: str, resource: str,
           conditions: list[Any] | None = None) -> bool | None:
    compiled = compile_policies([(normalize_statements(statements), conditions or [])])
    return compiled.decide(action, resource)


# -- the language ------------------------------------------------------------------------------


def test_allow_deny_and_nothing() -> None:
    allow = {"effect": "Allow", "actions": ["kos:GetObject"], "resources": [BUCKET + "/*"]}
    assert decide([allow], "kos:GetObject", BUCKET + "/a/b.txt") is True
    assert decide([allow], "kos:PutObject", BUCKET + "/a/b.txt") is None
    assert decide([allow], "kos:GetObject", OTHER_BUCKET + "/a") is None
    assert decide([allow], "kos:GetObject", BUCKET) is None
    deny = {"effect": "Deny", "actions": ["kos:*"], "resources": [BUCKET + "/secret/*"]}
    assert decide([allow, deny], "kos:GetObject", BUCKET + "/secret/x") is False
    assert decide([deny, allow], "kos:GetObject", BUCKET + "/public/x") is True


def test_actions_are_case_insensitive_and_resources_exact() -> None:
    allow = {"effect": "Allow", "actions": ["KOS:getobject"], "resources": [BUCKET + "/A*"]}
    assert decide([allow], "kos:GetObject", BUCKET + "/Apple") is True
    assert decide([allow], "kos:GetObject", BUCKET + "/apple") is None


def test_wildcards_span_separators_and_newlines() -> None:
    allow = {"effect": "Allow", "actions": ["kos:Get*"], "resources": ["krn:kos:*:111111111111:*"]}
    assert decide([allow], "kos:GetBucket", BUCKET) is True
    assert decide([allow], "kos:GetObject", BUCKET + "/dir/with\nnewline") is True
    assert decide([allow], "kos:ListBucket", BUCKET) is None


def test_an_action_wildcard_cannot_reach_into_the_resource() -> None:
    """`kos:*` must not swallow the separator and let a crafted key match another bucket."""
    allow = {"effect": "Allow", "actions": ["kos:*"], "resources": [BUCKET + "/*"]}
    crafted = OTHER_BUCKET + "/x\x00" + BUCKET + "/y"
    assert decide([allow], "kos:GetObject", crafted) is None


def test_regex_metacharacters_are_literal() -> None:
    allow = {"effect": "Allow", "actions": ["kos:GetObject"], "resources": [BUCKET + "/a.b(c)+[d]"]}
    assert decide([allow], "kos:GetObject", BUCKET + "/a.b(c)+[d]") is True
    assert decide([allow], "kos:GetObject", BUCKET + "/aXb(c)+[d]") is None


def test_conditional_allows_are_ignored_but_denies_apply() -> None:
    allow = {"effect": "Allow", "actions": ["kos:*"]}
    deny = {"effect": "Deny", "actions": ["kos:DeleteObject"]}
    assert decide([allow], "kos:GetObject", BUCKET, conditions=[{"ip": "10.0.0.0/8"}]) is None
    assert decide([deny], "kos:DeleteObject", BUCKET, conditions=[{"x": 1}]) is False


def test_normalisation() -> None:
    aws = [{"Effect": "deny", "Action": "kos:GetObject", "Resource": "x", "Sid": 1}]
    assert normalize_statements(aws) == [
        {"Sid": 1, "effect": "Deny", "actions": ["kos:GetObject"], "resources": ["x"]}]
    assert normalize_statements([{"effect": "Allow", "actions": ["*"]}])[0]["resources"] == ["*"]
    assert normalize_conditions(None) == []


@pytest.mark.parametrize("statements", [
    None, [], {}, "x", [1], [{}], [{"effect": "allowed", "actions": ["kos:*"]}],
    [{"effect": "Allow", "actions": []}], [{"effect": "Allow", "actions": "  "}],
    [{"effect": "Allow", "actions": ["iam:*"]}],
    [{"effect": "Allow", "actions": ["kos:*"], "resources": [1]}],
    [{"effect": "Allow", "actions": ["kos:*"]}] * 101,
    [{"effect": "Allow", "actions": ["kos:" + "x" * 3000]}],
])
def test_invalid_statements(statements: Any) -> None:
    with pytest.raises(Unprocessable):
        normalize_statements(statements)


def test_account_of() -> None:
    assert account_of(BUCKET) == "111111111111"
    assert account_of("krn:kos::222::user:kc-b") == "222"
    assert account_of("krn:kos:*:333:*") == "333"
    assert account_of("not-a-krn") == "" and account_of("krn:kos:r") == ""


def test_the_documented_actions_are_kos_operations() -> None:
    assert all(re.fullmatch(r"kos:[A-Z][A-Za-z]+", a) for a in ACTIONS)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(key=_text, pattern=_text)
def test_a_literal_resource_matches_only_itself(key: str, pattern: str) -> None:
    literal = pattern.replace("*", "")
    allow = {"effect": "Allow", "actions": ["kos:GetObject"], "resources": [BUCKET + "/" + literal]}
    assert (decide([allow], "kos:GetObject", BUCKET + "/" + key) is True) == (key == literal)


@given(prefix=_text.filter(lambda t: "*" not in t), rest=_text)
def test_a_trailing_star_matches_every_extension(prefix: str, rest: str) -> None:
    allow = {"effect": "Allow", "actions": ["kos:*"], "resources": [BUCKET + "/" + prefix + "*"]}
    assert decide([allow], "kos:PutObject", BUCKET + "/" + prefix + rest) is True


@given(allows=st.lists(st.booleans(), max_size=4), denies=st.integers(0, 3))
def test_any_deny_wins(allows: list[bool], denies: int) -> None:
    statements = [{"effect": "Allow", "actions": ["kos:GetObject" if a else "kos:PutObject"]} for a in allows]
    statements += [{"effect": "Deny", "actions": ["kos:GetObject"]}] * denies
    if not statements:
        return
    expected = False if denies else (True if any(allows) else None)
    assert decide(statements, "kos:GetObject", BUCKET) is expected


# -- the service, on a real (temporary) database -----------------------------------------------


@pytest.fixture
def kosha(tmp_path: Path) -> Iterator[Kosha]:
    instance = Kosha(Settings(data_dir=tmp_path / "data", root_access_key="KOSAUTHZTEST0000001",
                              root_secret_key="authz-test-secret-0000000000000000000000"))
    instance.start()
    yield instance
    instance.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_authorizer(kosha: Kosha) -> None:
    async def scenario() -> None:
        account = await kosha.accounts.create_account(SYSTEM, "t")
        member, _ = await kosha.accounts.create_user(SYSTEM, account.account_id, "m")
        admin, _ = await kosha.accounts.create_user(SYSTEM, account.account_id, "a", admin=True)
        who = await kosha.auth.principal_for_user(member.kcid)
        boss = await kosha.auth.principal_for_user(admin.kcid)
        mine = f"krn:kos:In-Bangalore-1:{account.account_id}:{admin.kcid}:bucket:b"
        theirs = "krn:kos:In-Bangalore-1:999999999999:kc-x:bucket:b"

        await kosha.authz.require(boss, "kos:DeleteBucket", mine)
        with pytest.raises(Forbidden):
            await kosha.authz.require(boss, "kos:GetBucket", theirs)
        with pytest.raises(Forbidden):
            await kosha.authz.require(SYSTEM, "kos:GetBucket", theirs)   # operator: own account only
        with pytest.raises(Forbidden):
            await kosha.authz.require(ANONYMOUS, "kos:GetBucket", mine)
        with pytest.raises(Forbidden):
            await kosha.authz.require(who, "kos:GetBucket", mine)

        policy = await kosha.policies.create(SYSTEM, name="read", account_id=account.account_id,
                                             statements=[{"effect": "Allow", "actions": ["kos:Get*"],
                                                          "resources": ["krn:kos:*"]}])
        await kosha.policies.attach(SYSTEM, [policy.policy_krn], [{"kcid": member.kcid}])
        await kosha.authz.require(who, "kos:GetBucket", mine)
        assert await kosha.authz.allowed(who, "kos:GetObject", mine + "/k")
        assert not await kosha.authz.allowed(who, "kos:PutObject", mine + "/k")
        assert not await kosha.authz.allowed(who, "kos:GetBucket", theirs)   # never across tenants

        await kosha.policies.detach(SYSTEM, [policy.policy_krn], [{"kcid": member.kcid}])
        assert not await kosha.authz.allowed(who, "kos:GetBucket", mine)

    run(scenario())


def test_require_operator(kosha: Kosha) -> None:
    kosha.authz.require_operator(SYSTEM)
    with pytest.raises(Unauthenticated):
        kosha.authz.require_operator(ANONYMOUS)
    with pytest.raises(Forbidden):
        kosha.authz.require_operator(Principal(account_id="1", kcid="kc-1", is_admin=True))
