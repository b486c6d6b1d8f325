"""May this principal do this action to this resource?

Rules, in order:

1. Anonymous principals are refused here (anonymous bucket reads are decided by the bucket
   service, which knows the bucket's `anonymous_access`).
2. A resource of another account is refused: policies never reach across tenants, and the
   operator is an administrator of its own account only (the `/internal` API is its reach into
   other accounts; see `require_operator`).
3. Account admins and the operator may do anything to their own account's resources.
4. Members need an Allow from a policy attached to them, and no Deny: an explicit Deny wins.

A resource is a KRN (`krn:kos:<region>:<account>:<kcid>:bucket:<name>`), an object is the
bucket's KRN + "/" + key; the account is always the fourth colon-separated field. Access keys are
governed on the owning user's KRN (`krn:kos::<account>::user:<kcid>`), as IAM does.

Policy statements are `{"effect": "Allow"|"Deny", "actions": [...], "resources": [...]}` (the
AWS spellings `Effect`/`Action`/`Resource`, and a single string for a list, are accepted and
normalised). `*` in an action or resource matches any run of characters; actions compare
case-insensitively, resources exactly. A statement without `resources` applies to every
resource of the account.

Conditions: a policy's `conditions` is a list of AWS condition blocks (`{"IpAddress":
{"aws:SourceIp": "10.0.0.0/8"}}`, the operators and keys of bucket policies, see
policy_conditions.py), and a statement may carry its own `Condition` block. Every block of the
policy and of the statement must hold for the statement to apply, for Allow and Deny alike.
An entry of `conditions` that is not a condition block (free-form objects older policies hold,
such as `{"note": ...}`) has no meaning Kosha could check: such a policy contributes only its
Deny statements, unconditionally, and its Allows are never granted (fail closed).

Action names (`kos:<Operation>`, shared by the REST API and S3):

    kos:ListBuckets  kos:CreateBucket  kos:GetBucket  kos:UpdateBucket  kos:DeleteBucket
    kos:GetBucketLocation  kos:ListBucket  kos:ListBucketVersions
    kos:GetObject  kos:PutObject  kos:DeleteObject  kos:ListMultipartUploads
    kos:AbortMultipartUpload  kos:GetObjectTagging  kos:PutObjectTagging
    kos:GetObjectAcl  kos:PutObjectAcl
    kos:GetLifecycle  kos:PutLifecycle  kos:GetBucketPolicy  kos:PutBucketPolicy
    kos:DeleteBucketPolicy  kos:GetBucketCors  kos:PutBucketCors
    kos:GetBucketNotification  kos:PutBucketNotification
    kos:ListAccessKeys  kos:CreateAccessKey  kos:DeleteAccessKey

One evaluation serves enforcement and the policy simulator: `Authorizer.decision` answers a
`Decision` (allowed or not, the rule that decided, and the deciding statement with its policy),
and `require`/`allowed` read its `allowed`. Each statement is a capturing group of its effect's
regular expression, so the group that matched names the statement at no extra cost; the
Decisions are built when the policies are compiled, so deciding allocates nothing.

Compiled policies are cached per user; any policy change clears the cache in this process, and
other processes pick changes up within `POLICY_CACHE_SECONDS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden, Unauthenticated, Unprocessable
from ..store import identity as sql
from ..cache import TTLCache, epoch
from .policy_conditions import ConditionError, Lookup, Predicate, compile_conditions, holds, is_operator
from .principal import Principal
from .request_facts import current

if TYPE_CHECKING:
    from .container import Kosha

POLICY_CACHE_SECONDS = 10.0
MAX_STATEMENTS = 100
MAX_PATTERNS = 100
MAX_PATTERN_LENGTH = 2048
EFFECTS = {"allow": "Allow", "deny": "Deny"}


def _no_values(_key: str) -> None:
    return None


_SEP = "\x00"   # between action and resource in the string matched; never inside an action

ACTIONS = frozenset({
    "kos:ListBuckets", "kos:CreateBucket", "kos:GetBucket", "kos:UpdateBucket", "kos:DeleteBucket",
    "kos:GetBucketLocation", "kos:ListBucket", "kos:ListBucketVersions",
    "kos:GetObject", "kos:PutObject", "kos:DeleteObject", "kos:ListMultipartUploads",
    "kos:AbortMultipartUpload", "kos:GetObjectTagging", "kos:PutObjectTagging",
    "kos:GetObjectAcl", "kos:PutObjectAcl", "kos:GetLifecycle", "kos:PutLifecycle",
    "kos:GetBucketPolicy", "kos:PutBucketPolicy",
    "kos:DeleteBucketPolicy", "kos:GetBucketCors", "kos:PutBucketCors",
    "kos:GetBucketNotification", "kos:PutBucketNotification",
    "kos:ListAccessKeys", "kos:CreateAccessKey", "kos:DeleteAccessKey",
})
_KNOWN_ACTIONS = {a.lower(): a for a in ACTIONS}


def known_action(name: str) -> str | None:
    """The action's canonical spelling, or None when no request is governed by it (names are
    compared case-insensitively, as statements match them)."""
    return _KNOWN_ACTIONS.get(name.lower())


def account_of(krn: str) -> str:
    """The account field of a KRN ('' when it is not one)."""
    parts = krn.split(":", 4)
    return parts[3] if len(parts) > 4 and parts[0] == "krn" else ""


# -- the statement language --------------------------------------------------------------------


def normalize_statements(value: Any) -> list[dict[str, Any]]:
    """Validate policy statements (422 on anything malformed) and normalise their spelling."""
    if not isinstance(value, list) or not value:
        raise Unprocessable("'statements' must be a non-empty list of objects")
    if len(value) > MAX_STATEMENTS:
        raise Unprocessable(f"a policy holds at most {MAX_STATEMENTS} statements")
    return [_normalize_statement(i, s) for i, s in enumerate(value)]


def _normalize_statement(index: int, statement: Any) -> dict[str, Any]:
    where = f"statements[{index}]"
    if not isinstance(statement, dict):
        raise Unprocessable(f"{where} must be an object")
    rest = {k: v for k, v in statement.items()
            if k not in ("effect", "Effect", "actions", "Action", "resources", "Resource")}
    block = statement.get("Condition", statement.get("condition"))
    if block is not None:
        try:
            compile_conditions(block)
        except ConditionError as e:
            raise Unprocessable(f"{where}.Condition: {e}") from None
    effect = statement.get("effect", statement.get("Effect"))
    if not isinstance(effect, str) or effect.lower() not in EFFECTS:
        raise Unprocessable(f"{where}.effect must be 'Allow' or 'Deny'")
    actions = _patterns(statement.get("actions", statement.get("Action")), f"{where}.actions")
    if not actions:
        raise Unprocessable(f"{where}.actions must be a non-empty list of action names")
    for action in actions:
        if action != "*" and not action.lower().startswith("kos:"):
            raise Unprocessable(f"{where}.actions: {action!r} is not a kos:<Operation> name")
    resources = _patterns(statement.get("resources", statement.get("Resource")),
                          f"{where}.resources") or ["*"]
    return {**rest, "effect": EFFECTS[effect.lower()], "actions": actions, "resources": resources}


def _patterns(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or len(value) > MAX_PATTERNS
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_PATTERN_LENGTH for v in value)):
        raise Unprocessable(f"{where} must be a list of at most {MAX_PATTERNS} non-empty strings")
    return value


def normalize_conditions(value: Any) -> list[dict[str, Any]]:
    """A list of objects; those that are condition blocks must compile (422 otherwise)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise Unprocessable("'conditions' must be a list of objects")
    for i, block in enumerate(value):
        if is_condition_block(block):
            try:
                compile_conditions(block)
            except ConditionError as e:
                raise Unprocessable(f"conditions[{i}]: {e}") from None
    return value


def is_condition_block(block: Any) -> bool:
    """Is this object an AWS condition block (every key a condition operator)?"""
    return isinstance(block, dict) and bool(block) and all(
        isinstance(k, str) and is_operator(k) for k in block)


def _conditions_of(conditions: Sequence[Any], statement: dict[str, Any]) -> tuple[Predicate, ...] | None:
    """The predicates a statement applies under; None when a policy condition is free-form."""
    if any(not is_condition_block(c) for c in conditions):
        return None
    predicates: list[Predicate] = []
    for block in (*conditions, statement.get("Condition") or statement.get("condition")):
        if block:
            predicates.extend(compile_conditions(block))
    return tuple(predicates)


def _glob(pattern: str, any_char: str) -> str:
    """A `*` glob as a regular expression that cannot backtrack: every `*` but the last takes
    the shortest run up to the next literal part and keeps it (an atomic group). That is the
    greedy glob algorithm, exact for globs, and a match costs O(subject x pattern) whatever
    the stars; `.*a.*a...b` would take exponential time on `aaaa...`, on the event loop."""
    parts = [re.escape(part) for part in pattern.split("*")]
    if len(parts) == 1:
        return parts[0]
    middle = "".join(f"(?>{any_char}*?{part})" for part in parts[1:-1])
    return f"{parts[0]}{middle}{any_char}*{parts[-1]}"


def _statement_regex(statement: dict[str, Any]) -> str:
    actions = "|".join(_glob(a, f"[^{_SEP}]") for a in statement["actions"])
    resources = "|".join(_glob(r, ".") for r in statement["resources"])
    return f"(?i:{actions}){_SEP}(?:{resources})"


@dataclass(frozen=True)
class Statement:
    """Where a deciding statement comes from: its policy, and its place in it."""
    policy_krn: str
    policy_name: str
    index: int
    effect: str
    actions: list[str]
    resources: list[str]


@dataclass(frozen=True)
class Decision:
    """What the evaluator decided, and why. Built once (per compiled statement, or as the
    constants below), so that deciding allocates nothing on the hot path."""
    allowed: bool
    decision: str            # admin, allow, explicit-deny, implicit-deny, other-account
    reason: str
    statement: Statement | None = None


ADMIN = Decision(True, "admin", "account admins may do anything to their account's resources")
OTHER_ACCOUNT = Decision(False, "other-account",
                         "the resource is not of the user's account: policies never reach across")
IMPLICIT_DENY = Decision(False, "implicit-deny", "no statement of the user's policies allows it")


def _decision(statement: Statement) -> Decision:
    where = f"statement {statement.index} of policy {statement.policy_name!r}"
    if statement.effect == "Deny":
        return Decision(False, "explicit-deny", f"denied by {where} (an explicit Deny wins)", statement)
    return Decision(True, "allow", f"allowed by {where}", statement)


@dataclass(frozen=True)
class Conditional:
    """A statement that applies only where its conditions hold (checked one by one)."""
    pattern: re.Pattern[str]
    predicates: tuple[Predicate, ...]
    decision: Decision


@dataclass(frozen=True)
class CompiledPolicies:
    """All of one user's unconditional statements as two regular expressions, one per effect,
    in which each statement is one capturing group: the group that matched names the deciding
    statement. Conditional statements are kept apart and tried in order after them."""
    allow: re.Pattern[str] | None
    deny: re.Pattern[str] | None
    allows: tuple[Decision, ...] = ()     # by group number - 1
    denies: tuple[Decision, ...] = ()
    conditional_allows: tuple[Conditional, ...] = ()
    conditional_denies: tuple[Conditional, ...] = ()

    def explain(self, action: str, resource: str, lookup: Lookup = _no_values) -> Decision:
        """An explicit Deny, else an Allow, else the implicit deny; the first such statement.
        `lookup` answers the request's condition values (none: conditional statements whose
        conditions need a value do not apply)."""
        subject = f"{action}{_SEP}{resource}"
        if self.deny is not None:
            found = self.deny.fullmatch(subject)
            if found is not None:
                return self.denies[found.lastindex - 1]  # type: ignore[operator]
        for c in self.conditional_denies:
            if c.pattern.fullmatch(subject) is not None and holds(c.predicates, lookup):
                return c.decision
        if self.allow is not None:
            found = self.allow.fullmatch(subject)
            if found is not None:
                return self.allows[found.lastindex - 1]  # type: ignore[operator]
        for c in self.conditional_allows:
            if c.pattern.fullmatch(subject) is not None and holds(c.predicates, lookup):
                return c.decision
        return IMPLICIT_DENY

    def decide(self, action: str, resource: str, lookup: Lookup = _no_values) -> bool | None:
        """False on an explicit Deny, True on an Allow, None when nothing applies."""
        verdict = self.explain(action, resource, lookup)
        return None if verdict is IMPLICIT_DENY else verdict.allowed


def compile_policies(policies: Iterable[Sequence[Any]]) -> CompiledPolicies:
    """From (statements, conditions[, policy KRN, policy name]) as stored."""
    regexes: dict[str, list[str]] = {"Allow": [], "Deny": []}
    decisions: dict[str, list[Decision]] = {"Allow": [], "Deny": []}
    conditional: dict[str, list[Conditional]] = {"Allow": [], "Deny": []}
    for statements, conditions, *origin in policies:
        krn, name = origin if origin else ("", "")
        for index, statement in enumerate(statements):
            effect = statement["effect"]
            try:
                predicates = _conditions_of(conditions or [], statement)
            except ConditionError:
                predicates = None          # stored before it was validated: fail closed
            if predicates is None and effect == "Allow":
                continue   # an Allow under free-form conditions is never granted (docstring)
            decision = _decision(Statement(krn, name, index, effect, statement["actions"],
                                           statement["resources"]))
            if predicates:
                conditional[effect].append(Conditional(
                    re.compile(_statement_regex(statement), re.DOTALL), predicates, decision))
                continue
            regexes[effect].append(_statement_regex(statement))
            decisions[effect].append(decision)

    def one(parts: list[str]) -> re.Pattern[str] | None:
        return re.compile("|".join(f"({r})" for r in parts), re.DOTALL) if parts else None

    return CompiledPolicies(one(regexes["Allow"]), one(regexes["Deny"]),
                            tuple(decisions["Allow"]), tuple(decisions["Deny"]),
                            tuple(conditional["Allow"]), tuple(conditional["Deny"]))


def _lookup(principal: Principal) -> Lookup:
    facts = current()
    return lambda key: facts.value(key, principal.kcid, None)


def _by_role(principal: Principal, resource: str) -> Decision | None:
    """Rules 1 to 3 of the module docstring; None when the user's policies decide (rule 4)."""
    if principal.anonymous or account_of(resource) != principal.account_id:
        return OTHER_ACCOUNT
    return ADMIN if principal.can_do_anything else None


# -- the service -------------------------------------------------------------------------------


class Authorizer:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._compiled: TTLCache[str, CompiledPolicies] = TTLCache(POLICY_CACHE_SECONDS)

    async def require(self, principal: Principal, action: str, resource: str) -> None:
        """Return if allowed; raise Forbidden (403) otherwise."""
        if not (await self.decision(principal, action, resource)).allowed:
            raise Forbidden(f"access denied: {action} on {resource}")

    async def allowed(self, principal: Principal, action: str, resource: str) -> bool:
        """The same decision as `require`, as a boolean (for filtering listings)."""
        return (await self.decision(principal, action, resource)).allowed

    async def decision(self, principal: Principal, action: str, resource: str) -> Decision:
        """The one evaluation behind every request and the policy simulator: the rules of the
        module docstring, and the rule or statement that decided."""
        return _by_role(principal, resource) or (await self._for_user(principal.kcid)).explain(
            action, resource, _lookup(principal))

    async def denies(self, principal: Principal, action: str, resource: str) -> bool:
        """Does one of the user's own policies explicitly deny this (whoever owns the resource)?
        An explicit Deny wins even where another account's bucket policy or ACL lets it in."""
        return (await self._for_user(principal.kcid)).decide(
            action, resource, _lookup(principal)) is False

    def require_manager(self, principal: Principal) -> None:
        """Before managing users and policies: 401 without credentials, 403 for members.

        Account admins manage their own account (see `manages`); the operator any account,
        which it reaches only through the `/internal` routes (they call `require_operator`).
        """
        if principal.anonymous:
            raise Unauthenticated("authentication required")
        if not principal.can_do_anything:
            raise Forbidden("only the account's admins may manage its users and policies")

    @staticmethod
    def manages(principal: Principal, account_id: str) -> bool:
        """Whether a manager (see `require_manager`) may manage that account's users and policies;
        where not, the account's users and policies answer 404, as if they did not exist."""
        return principal.is_operator or account_id == principal.account_id

    def require_operator(self, principal: Principal) -> None:
        """For the `/internal` API: 401 without credentials, 403 for anyone but the operator."""
        if principal.anonymous:
            raise Unauthenticated("authentication required")
        if not principal.is_operator:
            raise Forbidden("only the operator may call the /internal API")

    def forget(self) -> None:
        """Policies or attachments changed: recompile on next use."""
        self._compiled.clear()

    async def _for_user(self, kcid: str) -> CompiledPolicies:
        compiled = self._compiled.get(kcid)
        if compiled is None:
            since = epoch()
            rows = await self.kosha.db.read(sql.policies_of_user, kcid)
            compiled = compile_policies((r.statements, r.conditions, r.policy_krn, r.name)
                                        for r in rows)
            self._compiled.put(kcid, compiled, since=since)
        return compiled
