"""Policy wildcards: exact glob semantics, at a cost that no pattern can blow up (a policy's
pattern is matched on the event loop, so one slow match stalls every tenant's requests)."""

from __future__ import annotations

import time
from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.services.authz import compile_policies, normalize_statements

BUCKET = "krn:kos:In-Bangalore-1:111111111111:kc-a:bucket:photos"


def glob_matches(pattern: str, subject: str) -> bool:
    """The reference: `*` is any run of characters, everything else literal."""
    @lru_cache(maxsize=None)
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(subject)
        if pattern[i] == "*":
            return match(i + 1, j) or (j < len(subject) and match(i, j + 1))
        return j < len(subject) and pattern[i] == subject[j] and match(i + 1, j + 1)
    return match(0, 0)


def allowed(resource_pattern: str, resource: str, action_pattern: str = "kos:GetObject",
            action: str = "kos:GetObject") -> bool:
    statement = {"effect": "Allow", "actions": [action_pattern], "resources": [resource_pattern]}
    return compile_policies([(normalize_statements([statement]), [])]).decide(action, resource) \
        is True


@settings(max_examples=500)
@given(st.text("ab*/", max_size=12), st.text("ab/", max_size=12))
def test_resource_wildcards_match_exactly_as_globs(pattern: str, key: str) -> None:
    assert allowed(BUCKET + "/" + pattern, BUCKET + "/" + key) \
        == glob_matches(BUCKET + "/" + pattern, BUCKET + "/" + key)


@settings(max_examples=300)
@given(st.text("Get*O", min_size=1, max_size=10))
def test_action_wildcards_match_exactly_as_globs(pattern: str) -> None:
    for action in ("kos:GetObject", "kos:GetBucket", "kos:PutObject"):
        assert allowed(BUCKET, BUCKET, "kos:" + pattern, action) \
            == glob_matches(("kos:" + pattern).lower(), action.lower())


def test_a_pattern_of_many_stars_is_decided_at_once() -> None:
    started = time.monotonic()
    assert not allowed(BUCKET + "/" + "*a" * 500 + "b", BUCKET + "/" + "a" * 1024)
    assert not allowed(BUCKET, BUCKET, "kos:" + "*e" * 500 + "x", "kos:GetObject")
    assert time.monotonic() - started < 1
