"""The bucket policy evaluator as a pure module: grammar, principals, wildcards, conditions."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.errors import Invalid
from kosha.services.policy_conditions import glob_matcher, glob_regex
from kosha.services.policy_eval import ALLOW, DENY, caller, parse, resource_arn

ALICE = caller("alice", "acct1")
BOB = caller("bob", "acct2")
NOBODY = caller("", "")


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject",
         resource: Any = "arn:aws:s3:::b/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def no_keys(_key: str) -> None:
    return None


def keys(**values: str) -> Any:
    table = {k.replace("_", ":", 1).replace("__", "-").lower(): [v] for k, v in values.items()}
    return lambda key: table.get(key)


def evaluate(policy: str, who: Any = BOB, action: str = "s3:GetObject", key: str | None = "k",
             lookup: Any = no_keys) -> str | None:
    return parse(policy, "b").evaluate(who, action, resource_arn("b", key), lookup)


def test_allow_to_everyone_applies_to_anonymous_callers() -> None:
    assert evaluate(doc(stmt()), NOBODY) == ALLOW


def test_statement_for_another_principal_does_not_apply() -> None:
    assert evaluate(doc(stmt(principal={"AWS": "alice"})), BOB) is None


@pytest.mark.parametrize("name", ["bob", "krn:kos::acct2::user:bob", "krn:kos::acct2",
                                  "arn:aws:iam::acct2:root", "arn:aws:iam::acct2:user/bob", "acct2"])
def test_principal_spellings_name_the_caller(name: str) -> None:
    assert evaluate(doc(stmt(principal={"AWS": [name]})), BOB) == ALLOW


def test_canonical_user_principal() -> None:
    assert evaluate(doc(stmt(principal={"CanonicalUser": "bob"})), BOB) == ALLOW


def test_not_principal_applies_to_everyone_else() -> None:
    policy = doc(stmt("Deny", **{"NotPrincipal": {"AWS": "alice"}, "Principal": None}))
    policy = policy.replace('"Principal": null, ', "")
    assert evaluate(policy, ALICE) is None
    assert evaluate(policy, BOB) == DENY


def test_action_wildcards_and_case() -> None:
    assert evaluate(doc(stmt(action="S3:get*"))) == ALLOW
    assert evaluate(doc(stmt(action="s3:Put*"))) is None
    assert evaluate(doc(stmt(action="*"))) == ALLOW


def test_not_action_and_not_resource() -> None:
    assert evaluate(doc({**stmt(), "NotAction": "s3:PutObject", "Action": None})
                    .replace('"Action": null, ', "")) == ALLOW
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                  "NotResource": "arn:aws:s3:::b/secret/*"})
    assert evaluate(policy, key="public/x") == ALLOW
    assert evaluate(policy, key="secret/x") is None


def test_bucket_resource_is_not_an_object_resource() -> None:
    policy = doc(stmt(action="s3:ListBucket", resource="arn:aws:s3:::b"))
    assert evaluate(policy, action="s3:ListBucket", key=None) == ALLOW
    assert evaluate(doc(stmt(action="s3:ListBucket")), action="s3:ListBucket", key=None) is None


@pytest.mark.parametrize("bad", [
    "not json", "[]", json.dumps({"Statement": []}),
    json.dumps({"Version": "2020-01-01", "Statement": [stmt()]}),
    doc({"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
    doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
    doc(stmt(action="s3:NoSuchAction")), doc(stmt(action="kos:GetObject")),
    doc(stmt(resource="arn:aws:s3:::other-bucket/*")), doc(stmt(resource="b/*")),
    doc(stmt(Condition={"StringFancy": {"s3:prefix": "a"}})),
    doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "not-an-ip"}})),
    doc(stmt(Condition={"NumericLessThan": {"s3:max-keys": "ten"}})),
    doc(stmt(principal={"Alien": "x"})), doc({**stmt(), "Extra": 1}),
    doc({"Effect": "Allow", "NotPrincipal": {"AWS": "bob"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/*"}),
])
def test_malformed_policies_are_refused(bad: str) -> None:
    with pytest.raises(Invalid) as e:
        parse(bad, "b")
    assert e.value.s3_code == "MalformedPolicy"


def test_policy_too_large() -> None:
    big = doc(*[stmt(Sid="x" * 1000) for _ in range(30)])
    with pytest.raises(Invalid) as e:
        parse(big, "b")
    assert e.value.s3_code == "PolicyTooLarge"


# -- conditions -----------------------------------------------------------------------------

def cond(condition: dict[str, Any], lookup: Any, who: Any = BOB) -> str | None:
    return evaluate(doc(stmt(Condition=condition)), who, lookup=lookup)


def test_string_operators() -> None:
    get = keys(s3_prefix="home/alice/")
    assert cond({"StringEquals": {"s3:prefix": "home/alice/"}}, get) == ALLOW
    assert cond({"StringNotEquals": {"s3:prefix": "home/alice/"}}, get) is None
    assert cond({"StringLike": {"s3:prefix": "home/*/"}}, get) == ALLOW
    assert cond({"StringNotLike": {"s3:prefix": "home/*"}}, get) is None
    assert cond({"StringEqualsIgnoreCase": {"s3:prefix": "HOME/ALICE/"}}, get) == ALLOW


def test_a_missing_key_fails_positive_operators_and_passes_negated_ones() -> None:
    assert cond({"StringEquals": {"s3:prefix": "x"}}, no_keys) is None
    assert cond({"StringNotEquals": {"s3:prefix": "x"}}, no_keys) == ALLOW
    assert cond({"StringEqualsIfExists": {"s3:prefix": "x"}}, no_keys) == ALLOW
    assert cond({"Null": {"s3:prefix": "true"}}, no_keys) == ALLOW
    assert cond({"Null": {"s3:prefix": "false"}}, no_keys) is None


def test_ip_operators() -> None:
    get = keys(aws_SourceIp="10.1.2.3")
    assert cond({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}, get) == ALLOW
    assert cond({"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}, get) is None
    assert cond({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, get) is None
    assert cond({"IpAddress": {"aws:SourceIp": "::1/128"}}, keys(aws_SourceIp="::1")) == ALLOW


def test_numeric_operators() -> None:
    get = keys(s3_max__keys="10")
    assert cond({"NumericLessThanEquals": {"s3:max-keys": "10"}}, get) == ALLOW
    assert cond({"NumericLessThan": {"s3:max-keys": "10"}}, get) is None
    assert cond({"NumericGreaterThan": {"s3:max-keys": 5}}, get) == ALLOW
    assert cond({"NumericNotEquals": {"s3:max-keys": "10"}}, get) is None


def test_date_and_bool_operators() -> None:
    get = keys(aws_CurrentTime="2026-06-01T00:00:00Z", aws_SecureTransport="false")
    assert cond({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, get) == ALLOW
    assert cond({"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, get) is None
    assert cond({"Bool": {"aws:SecureTransport": "false"}}, get) == ALLOW
    assert cond({"Bool": {"aws:SecureTransport": True}}, get) is None


def test_multi_valued_qualifiers() -> None:
    tags = {"s3:requestobjecttagkeys": ["team", "cost"]}
    get = tags.get
    assert cond({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "cost", "x"]}},
                get) == ALLOW
    assert cond({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team"]}}, get) is None
    assert cond({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["cost"]}}, get) == ALLOW
    assert cond({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["x"]}}, no_keys) is None


def test_every_operator_and_key_must_hold() -> None:
    get = keys(s3_prefix="a", aws_SourceIp="10.0.0.1")
    both = {"StringEquals": {"s3:prefix": "a"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert cond(both, get) == ALLOW
    assert cond({**both, "IpAddress": {"aws:SourceIp": "11.0.0.0/8"}}, get) is None


def test_public_policy_detection() -> None:
    assert parse(doc(stmt()), "b").is_public
    assert not parse(doc(stmt(principal={"AWS": "bob"})), "b").is_public
    assert not parse(doc(stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), "b").is_public
    assert not parse(doc(stmt("Deny")), "b").is_public


# -- properties -----------------------------------------------------------------------------

_actions = st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject",
                            "s3:Get*", "s3:*", "*", "s3:?etObject"])
_principals = st.sampled_from(["*", {"AWS": "bob"}, {"AWS": "alice"}, {"AWS": "krn:kos::acct2"}])
_statements = st.builds(lambda e, p, a, r: stmt(e, p, a, r), st.sampled_from(["Allow", "Deny"]),
                        _principals, _actions,
                        st.sampled_from(["arn:aws:s3:::b/*", "arn:aws:s3:::b", "*",
                                         "arn:aws:s3:::b/k*", "arn:aws:s3:::b/x"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_statements, min_size=1, max_size=8),
       st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:ListBucket"]),
       st.sampled_from(["k", "x", None]), st.sampled_from([ALICE, BOB, NOBODY]))
def test_deny_always_beats_allow(statements: list[dict[str, Any]], action: str,
                                 key: str | None, who: Any) -> None:
    """The verdict is DENY exactly when a Deny statement applies on its own, whatever Allows."""
    verdict = evaluate(doc(*statements), who, action, key)
    denies = [s for s in statements if s["Effect"] == "Deny"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    deny_alone = any(evaluate(doc(s), who, action, key) == DENY for s in denies)
    allow_alone = any(evaluate(doc(s), who, action, key) == ALLOW for s in allows)
    assert verdict == (DENY if deny_alone else ALLOW if allow_alone else None)


_glob_text = st.text(alphabet="ab*?.c/", max_size=10)
_subject = st.text(alphabet="abc./", max_size=14)


@settings(max_examples=500, deadline=None)
@given(_glob_text, _subject)
def test_wildcards_match_as_fnmatch_restricted_to_star_and_question_mark(pattern: str,
                                                                         subject: str) -> None:
    assert (glob_regex(pattern).fullmatch(subject) is not None) == fnmatch.fnmatchcase(subject, pattern)


@settings(max_examples=500, deadline=None)
@given(st.lists(_glob_text, min_size=1, max_size=3), _subject)
def test_glob_matcher_shortcuts_agree_with_fnmatch(patterns: list[str], subject: str) -> None:
    expected = any(fnmatch.fnmatchcase(subject, p) for p in patterns)
    assert glob_matcher(patterns)(subject) == expected


def test_wildcard_matching_stays_linear_on_hostile_patterns() -> None:
    import time
    start = time.perf_counter()
    glob_regex("*a" * 30 + "*b").fullmatch("a" * 5000)
    assert time.perf_counter() - start < 1.0


def test_a_remembered_decision_follows_the_condition_values_it_read() -> None:
    policy = parse(doc(stmt("Deny", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
                       stmt("Allow")), "b")
    arn = resource_arn("b", "k")
    inside, outside = keys(**{"aws:sourceip": "10.1.2.3"}), keys(**{"aws:sourceip": "192.0.2.1"})
    decisions = [policy.evaluate(BOB, "s3:GetObject", arn, lookup)
                 for lookup in (inside, outside, inside, outside)]
    assert decisions == [DENY, ALLOW, DENY, ALLOW]


@settings(max_examples=60, deadline=None)
@given(ips=st.lists(st.sampled_from(["10.0.0.1", "10.9.9.9", "192.0.2.1", "198.51.100.7"]),
                    min_size=1, max_size=12))
def test_remembered_decisions_equal_fresh_ones(ips: list[str]) -> None:
    text = doc(stmt("Deny", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), stmt("Allow"))
    remembered = parse(text, "b")
    for ip in ips:
        lookup = keys(**{"aws:sourceip": ip})
        arn = resource_arn("b", "k")
        assert remembered.evaluate(BOB, "s3:GetObject", arn, lookup) == \
            parse(text, "b").evaluate(BOB, "s3:GetObject", arn, lookup)
