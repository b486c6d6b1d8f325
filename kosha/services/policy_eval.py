"""Bucket policy documents in AWS's grammar: parse once into compiled statements, then
`evaluate(caller, action, resource, lookup)` → ALLOW, DENY or None (no statement applies).

Pure: no I/O, no clock, no service. The bucket service caches one `BucketPolicy` per bucket
(keyed by the document's text) and supplies the request's condition values through `lookup`.

Grammar (what `parse` accepts; anything else is MalformedPolicy, as on S3):

    {"Version": "2012-10-17" | "2008-10-17", "Id": "...",
     "Statement": [{"Sid": "...", "Effect": "Allow" | "Deny",
                    "Principal" | "NotPrincipal": "*" | {"AWS": "*" | id | [ids]}
                                                      | {"CanonicalUser": id | [ids]},
                    "Action" | "NotAction": "s3:GetObject" | "s3:Get*" | "*" | [...],
                    "Resource" | "NotResource": "arn:aws:s3:::bucket" | "arn:aws:s3:::bucket/k*" | [...],
                    "Condition": {...}}]}                      # see policy_conditions.py

A principal id is a user's canonical id (its kcid), a user KRN `krn:kos::<account>::user:<kcid>`,
an account KRN `krn:kos::<account>` (any user of that account), an account id, or the IAM
spellings `arn:aws:iam::<account>:root` and `arn:aws:iam::<account>:user/<kcid>`. `*` in an action
or a resource matches any run of characters and `?` any one character (actions compare
case-insensitively, resources exactly). An explicit Deny of any statement beats every Allow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import Invalid
from .policy_conditions import (ConditionError, Lookup, Predicate, compile_conditions, glob_matcher,
                                glob_regex, keys_of)

ALLOW = "Allow"
DENY = "Deny"
MAX_POLICY_BYTES = 20 * 1024
MAX_STATEMENTS = 100
MAX_DECISIONS = 4096         # per policy; cleared when full
VERSIONS = ("2012-10-17", "2008-10-17")
ANY = "*"

S3_ACTIONS = frozenset(a.lower() for a in (
    "s3:AbortMultipartUpload", "s3:CreateBucket", "s3:DeleteBucket", "s3:DeleteBucketPolicy",
    "s3:DeleteBucketOwnershipControls", "s3:DeleteObject", "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion", "s3:DeleteObjectVersionTagging", "s3:GetBucketAcl",
    "s3:GetBucketCORS", "s3:GetBucketLocation", "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy", "s3:GetBucketPolicyStatus", "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging", "s3:GetBucketVersioning", "s3:GetLifecycleConfiguration",
    "s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectAttributes", "s3:GetObjectTagging",
    "s3:GetObjectVersion", "s3:GetObjectVersionAcl", "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionTagging", "s3:ListAllMyBuckets", "s3:ListBucket",
    "s3:ListBucketMultipartUploads", "s3:ListBucketVersions", "s3:ListMultipartUploadParts",
    "s3:PutBucketAcl", "s3:PutBucketCORS", "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock", "s3:PutBucketTagging", "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration", "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl", "s3:PutObjectVersionTagging", "s3:GetBucketNotification",
    "s3:PutBucketNotification", "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration", "s3:RestoreObject", "s3:GetObjectRetention",
    "s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention", "s3:GetBucketObjectLockConfiguration",
    "s3:PutBucketObjectLockConfiguration", "s3:GetReplicationConfiguration",
    "s3:PutReplicationConfiguration", "s3:GetBucketWebsite", "s3:PutBucketWebsite",
    "s3:DeleteBucketWebsite", "s3:GetBucketLogging", "s3:PutBucketLogging",
    "s3:GetAccelerateConfiguration", "s3:PutAccelerateConfiguration",
    "s3:GetBucketRequestPayment", "s3:PutBucketRequestPayment",
))
# Condition keys whose use keeps an Allow to "*" from being public (AWS's rule, abridged).
_RESTRICTING_KEYS = frozenset({"aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:sourcearn",
                               "aws:sourceaccount", "aws:principalaccount", "aws:principalarn",
                               "aws:userid", "aws:username", "aws:principalorgid"})


def malformed(message: str) -> Invalid:
    return Invalid(message, s3_code="MalformedPolicy")


@dataclass(frozen=True)
class Caller:
    """Who asks, as policy principals name them: `user:<kcid>` and `account:<id>`; none when
    anonymous (only `*` matches it)."""
    ids: frozenset[str]
    userid: str = ""


ANONYMOUS_CALLER = Caller(frozenset())


@lru_cache(maxsize=4096)
def caller(kcid: str, account_id: str) -> Caller:
    if not kcid:
        return ANONYMOUS_CALLER
    return Caller(frozenset({f"user:{kcid}", f"account:{account_id}"}), kcid)


@dataclass(frozen=True)
class CompiledStatement:
    sid: str
    effect: str
    principals: frozenset[str] | None      # None: everyone
    not_principal: bool
    actions: Callable[[str], bool]         # matches an action (case-insensitive)
    not_action: bool
    resources: Callable[[str], bool]       # matches a resource
    not_resource: bool
    conditions: tuple[Predicate, ...]
    public: bool
    condition_keys: frozenset[str] = frozenset()

    def covers(self, action: str) -> bool:
        return self.actions(action) != self.not_action


@dataclass(frozen=True)
class BucketPolicy:
    text: str
    statements: tuple[CompiledStatement, ...]
    is_public: bool
    needs_existing_tags: bool
    # action -> the statements that cover it, Denies first; filled as actions are seen (the
    # actions are the operations' names, a small fixed set)
    _by_action: dict[str, tuple[tuple[CompiledStatement, ...], tuple[str, ...]]] = field(
        default_factory=dict, compare=False, repr=False)
    # (caller, action, resource, the condition values read) -> verdict: a decision is a pure
    # function of these, and the same caller reads the same objects again and again
    _decisions: dict[tuple[Any, ...], str | None] = field(default_factory=dict, compare=False,
                                                          repr=False)

    def evaluate(self, who: Caller, action: str, resource: str, lookup: Lookup) -> str | None:
        """DENY if any applicable statement denies, else ALLOW if one allows, else None."""
        found = self._by_action.get(action)
        if found is None:
            covering = [s for s in self.statements if s.covers(action)]
            found = (tuple(sorted(covering, key=lambda s: s.effect != DENY)),
                     tuple(sorted({k for s in covering for k in s.condition_keys})))
            if len(self._by_action) < 512:
                self._by_action[action] = found
        candidates, keys = found
        if not candidates:
            return None
        values = tuple(_hashable(lookup(k)) for k in keys)
        memo = (who.ids, action, resource, values)
        try:
            return self._decisions[memo]
        except KeyError:
            pass
        except TypeError:           # a value that cannot be a key: decide without the memo
            return self._decide(candidates, who, resource, dict(zip(keys, values)), lookup)
        seen = dict(zip(keys, values))
        verdict = self._decide(candidates, who, resource, seen, lookup)
        if len(seen) == len(keys):  # nothing beyond `keys` was read: the memo key is complete
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            self._decisions[memo] = verdict
        return verdict

    @staticmethod
    def _decide(candidates: tuple[CompiledStatement, ...], who: Caller, resource: str,
                seen: dict[str, Any], lookup: Lookup) -> str | None:

        def get(key: str) -> Any:
            if key in seen:
                return seen[key]
            value = seen[key] = lookup(key)
            return value

        # this loop is the whole per-request cost of a bucket policy: kept free of calls
        ids = who.ids
        verdict = None
        for st in candidates:
            if verdict is not None and st.effect == ALLOW:
                break                       # Denies come first: one Allow is enough
            named = st.principals is None or not st.principals.isdisjoint(ids)
            if named == st.not_principal:
                continue
            if st.resources(resource) == st.not_resource:
                continue
            failed = False
            for condition in st.conditions:
                if not condition(get):
                    failed = True
                    break
            if failed:
                continue
            if st.effect == DENY:
                return DENY
            verdict = ALLOW
        return verdict


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def resource_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def parse(document: str | bytes, bucket: str) -> BucketPolicy:
    """Validate and compile a bucket policy document for `bucket` (MalformedPolicy otherwise)."""
    raw = document.encode() if isinstance(document, str) else document
    if len(raw) > MAX_POLICY_BYTES:
        raise Invalid(f"Policies must be at most {MAX_POLICY_BYTES} bytes", s3_code="PolicyTooLarge")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise malformed("Policies must be valid JSON and the first byte must be '{'") from None
    if not isinstance(doc, dict):
        raise malformed("Policies must be valid JSON and the first byte must be '{'")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise malformed(f"Unknown field {sorted(unknown)[0]}")
    if "Version" in doc and doc["Version"] not in VERSIONS:
        raise malformed("The policy must contain a valid version string")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise malformed("Missing required field Statement")
    if len(statements) > MAX_STATEMENTS:
        raise malformed(f"A policy holds at most {MAX_STATEMENTS} statements")
    compiled = tuple(_statement(s, bucket) for s in statements)
    text = raw.decode()
    return BucketPolicy(text, compiled, any(s.public for s in compiled),
                        any(k.startswith("s3:existingobjecttag/")
                            for s in statements for k in keys_of(s.get("Condition"))))


_FIELDS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
           "NotResource", "Condition"}


def _statement(s: Any, bucket: str) -> CompiledStatement:
    if not isinstance(s, dict):
        raise malformed("Each Statement must be an object")
    unknown = set(s) - _FIELDS
    if unknown:
        raise malformed(f"Unknown field {sorted(unknown)[0]}")
    effect = s.get("Effect")
    if effect not in (ALLOW, DENY):
        raise malformed("Invalid effect: Effect must be Allow or Deny")
    sid = s.get("Sid", "")
    if not isinstance(sid, str):
        raise malformed("Sid must be a string")
    principal_key = _one_of(s, "Principal", "NotPrincipal")
    if principal_key == "NotPrincipal" and effect == ALLOW:
        raise malformed("NotPrincipal is only allowed with Effect Deny")
    action_key = _one_of(s, "Action", "NotAction")
    resource_key = _one_of(s, "Resource", "NotResource")
    principals = _principals(s[principal_key])
    actions = _strings(s[action_key], "Action")
    for a in actions:
        low = a.lower()
        if low != "*" and (not low.startswith("s3:") or ("*" not in low and "?" not in low
                                                         and low not in S3_ACTIONS)):
            raise malformed(f"Policy has invalid action: {a}")
    resources = _strings(s[resource_key], "Resource")
    for r in resources:
        _check_resource(r, bucket)
    try:
        conditions = compile_conditions(s.get("Condition"))
        keys = keys_of(s.get("Condition"))
    except ConditionError as e:
        raise malformed(f"Invalid Condition: {e}") from None
    public = (effect == ALLOW and (principals is None or principal_key == "NotPrincipal")
              and not (keys & _RESTRICTING_KEYS))
    return CompiledStatement(
        sid, effect, principals, principal_key == "NotPrincipal",
        glob_matcher(actions, ignore_case=True), action_key == "NotAction",
        glob_matcher(resources), resource_key == "NotResource", conditions, public,
        frozenset(keys))


def _one_of(s: dict[str, Any], a: str, b: str) -> str:
    if (a in s) == (b in s):
        raise malformed(f"Missing required field {a}" if a not in s else f"{a} and {b} together")
    return a if a in s else b


def _strings(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value or len(value) > 100
            or not all(isinstance(v, str) and 0 < len(v) <= 2048 for v in value)):
        raise malformed(f"{what} must be a string or a non-empty list of strings")
    return value


def _check_resource(resource: str, bucket: str) -> None:
    if resource == "*":
        return
    if not resource.startswith("arn:aws:s3:::"):
        raise malformed(f"Policy has invalid resource: {resource}")
    name = resource[len("arn:aws:s3:::"):].split("/", 1)[0]
    if glob_regex(name).fullmatch(bucket) is None:
        raise malformed(f"Policy has invalid resource: {resource}")


def principal_ids(value: str) -> frozenset[str] | None:
    """One principal id → the caller ids it names (None: everyone)."""
    v = value.strip()
    if v == ANY:
        return None
    if v.startswith("arn:aws:iam::"):
        account, _, rest = v[len("arn:aws:iam::"):].partition(":")
        if rest == "root" and account:
            return frozenset({f"account:{account}"})
        if rest.startswith("user/") and len(rest) > 5:
            return frozenset({f"user:{rest[5:].rsplit('/', 1)[-1]}"})
        raise malformed(f"Invalid principal in policy: {value}")
    if v.startswith("krn:"):
        parts = v.split(":")
        if len(parts) >= 7 and parts[5] == "user" and parts[6]:
            return frozenset({f"user:{parts[6]}"})
        if len(parts) >= 4 and parts[1] == "kos" and parts[3]:
            return frozenset({f"account:{parts[3]}"})
        raise malformed(f"Invalid principal in policy: {value}")
    if not v or any(c in v for c in " /:*?"):
        raise malformed(f"Invalid principal in policy: {value}")
    return frozenset({f"user:{v}", f"account:{v}"})


def _principals(value: Any) -> frozenset[str] | None:
    if value == ANY:
        return None
    if not isinstance(value, dict) or not value:
        raise malformed("Invalid principal in policy")
    ids: set[str] = set()
    for kind, names in value.items():
        if kind not in ("AWS", "CanonicalUser", "Service", "Federated"):
            raise malformed(f"Invalid principal in policy: {kind}")
        for name in _strings(names, "Principal"):
            if kind in ("Service", "Federated"):
                ids.add(f"{kind.lower()}:{name}")     # never a Kosha caller
                continue
            found = principal_ids(name)
            if found is None:
                return None
            ids |= found
    return frozenset(ids)
