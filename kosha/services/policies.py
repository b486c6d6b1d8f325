"""Identity policies, per account: managed by the operator (the `/internal/kos/v1/policy`
family, any account) and by each account's admins (`/kos/v1/account/policies`, their own).

A policy belongs to one account: the operator names it with `accountId` when creating it (the
operator's own account by default); an account admin's policies are its account's. Members get
403; another account's policies and users answer 404 (`authz.require_manager`, `manages`).
Passing `account_id` to a lookup confines it to that account, whoever asks. `simulate` answers
what the evaluator enforcing requests decides for one of the caller's account's users. Its KRN is `krn:kos::<account>::policy:<id>`; every lookup
also accepts the bare id. Names are unique within an account (409). Policies attach only to
users of their own account. The statement language and its evaluation live in `authz`.
Deleting a policy detaches it from everyone. Every change clears the compiled-policy cache.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Invalid, NotFound, Unprocessable
from ..ids import new_id, policy_krn
from ..store import identity as sql
from ..store.generation import invalidating
from .authz import ACTIONS, Decision, known_action, normalize_conditions, normalize_statements
from .principal import Principal

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

MAX_NAME = 255
MAX_BATCH = 100
_ACTION = re.compile(r"kos:[A-Za-z]+")
Policies = list["Policy"]   # (the `list` method shadows the builtin inside the class)


@dataclass(frozen=True)
class Policy:
    policy_krn: str
    policy_id: str
    account_id: str
    name: str
    statements: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    created_at: float
    updated_at: float
    users: list[str] = field(default_factory=list)     # kcids it is attached to

    @classmethod
    def from_row(cls, row: Row[Any], users: list[str] | None = None) -> Policy:
        return cls(row.policy_krn, row.policy_id, row.account_id, row.name, row.statements,
                   row.conditions, row.created_at, row.updated_at, users or [])


@dataclass(frozen=True)
class Simulation:
    kcid: str
    action: str
    resource: str
    decision: Decision


class PolicyService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha

    async def create(self, principal: Principal, *, name: Any, statements: Any,
                     conditions: Any = None, account_id: str | None = None) -> Policy:
        self.kosha.authz.require_manager(principal)
        account_id = account_id or principal.account_id
        if (not self.kosha.authz.manages(principal, account_id)
                or await self.kosha.db.read(sql.get_account, account_id) is None):
            raise NotFound(f"account {account_id!r} not found")
        policy_id, now = new_id(), self.kosha.clock.now()
        values = dict(policy_krn=policy_krn(account_id, policy_id), policy_id=policy_id,
                      account_id=account_id, name=_name(name),
                      statements=normalize_statements(statements),
                      conditions=normalize_conditions(conditions), created_at=now, updated_at=now)
        row = await self._write_named(sql.insert_policy, values["name"], values)
        return Policy.from_row(row)

    async def list(self, principal: Principal, *, account_id: str | None = None,
                   name: str | None = None) -> Policies:
        self.kosha.authz.require_manager(principal)
        if not principal.is_operator:
            account_id = principal.account_id
        rows = await self.kosha.db.read(sql.list_policies, account_id, name)
        return await self._with_users(rows)

    async def get(self, principal: Principal, ref: str, account_id: str | None = None) -> Policy:
        return (await self._with_users([await self._row(principal, ref, account_id)]))[0]

    async def update(self, principal: Principal, ref: str, *, name: Any = None,
                     statements: Any = None, conditions: Any = None,
                     account_id: str | None = None) -> Policy:
        """Changes the fields given; the others keep their values."""
        row = await self._row(principal, ref, account_id)
        values: dict[str, Any] = {"updated_at": self.kosha.clock.now()}
        if name is not None:
            values["name"] = _name(name)
        if statements is not None:
            values["statements"] = normalize_statements(statements)
        if conditions is not None:
            values["conditions"] = normalize_conditions(conditions)
        updated = await self._write_named(sql.update_policy, values.get("name", row.name),
                                          row.policy_krn, values)
        self.kosha.authz.forget()
        return (await self._with_users([updated]))[0]

    async def delete(self, principal: Principal, ref: str, account_id: str | None = None) -> None:
        row = await self._row(principal, ref, account_id)
        await self.kosha.db.write(invalidating(sql.delete_policy), row.policy_krn)
        self.kosha.authz.forget()

    async def attach(self, principal: Principal, policy_refs: Any, users: Any,
                     account_id: str | None = None) -> Policies:
        """Attach every policy to every user (already attached: left alone)."""
        return await self._link(principal, policy_refs, users, sql.attach, account_id)

    async def detach(self, principal: Principal, policy_refs: Any, users: Any,
                     account_id: str | None = None) -> Policies:
        """Detach every policy from every user (not attached: nothing to do)."""
        return await self._link(principal, policy_refs, users, sql.detach, account_id)

    def validate(self, principal: Principal, statements: Any, conditions: Any = None
                 ) -> list[dict[str, Any]]:
        """The statements as a policy would store them (422 naming the first bad field)."""
        self.kosha.authz.require_manager(principal)
        normalize_conditions(conditions)
        return normalize_statements(statements)

    async def simulate(self, principal: Principal, *, action: Any, kcid: str | None = None,
                       resource: Any = None, bucket: str | None = None,
                       key: str | None = None) -> Simulation:
        """May user `kcid` (the caller by default) do `action` on `resource` (or on the bucket
        and key named)? Answered by the evaluator that enforces requests (`authz.decision`)."""
        self.kosha.authz.require_manager(principal)
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise Unprocessable("'action' must be a kos:<Operation> name, e.g. kos:GetObject")
        if known_action(action) is None:   # else an admin would be told "allowed" for a typo
            raise Unprocessable(f"'action' {action!r} is not an action Kosha authorizes; "
                                f"use one of {', '.join(sorted(ACTIONS))}")
        row = await self.kosha.db.read(sql.get_user, kcid or principal.kcid)
        if row is None or row.account_id != principal.account_id:
            raise NotFound(f"user {kcid!r} not found")
        if bucket is not None:
            found = await self.kosha.buckets.resolve(principal, bucket, "kos:GetBucket")
            resource = found.krn if key is None else f"{found.krn}/{key}"
        elif not isinstance(resource, str) or not resource.startswith("krn:"):
            raise Unprocessable("'resource' must be a KRN (or name a 'bucket' and 'key')")
        user = Principal(account_id=row.account_id, kcid=row.kcid, is_admin=bool(row.is_admin),
                         is_operator=bool(row.is_operator))
        return Simulation(row.kcid, action, resource,
                          await self.kosha.authz.decision(user, action, resource))

    # -- helpers -----------------------------------------------------------------------------
    async def _link(self, principal: Principal, policy_refs: Any, users: Any, change: Any,
                    account_id: str | None) -> Policies:
        self.kosha.authz.require_manager(principal)
        refs = _list_of(policy_refs, "policyKRNs", str)
        rows = [await self._row(principal, ref, account_id) for ref in refs]
        kcids = await self._users(principal, users)
        for row in rows:
            strangers = [k for k, account in kcids.items() if account != row.account_id]
            if strangers:
                raise Invalid(f"policy {row.policy_krn} belongs to account {row.account_id}; users "
                              f"{', '.join(strangers)} are not of that account")
        await self.kosha.db.write(invalidating(change), [(r.policy_krn, k) for r in rows for k in kcids])
        self.kosha.authz.forget()
        return await self._with_users(rows)

    async def _users(self, principal: Principal, users: Any) -> dict[str, str]:
        """kcid -> account of each `{kcid, krn, accountId}` named; 404 for anyone unknown or not
        the caller's to manage."""
        named: dict[str, str | None] = {}
        for i, user in enumerate(_list_of(users, "users", dict)):
            kcid, account = _identify(i, user)
            named[kcid] = account
        found = await self.kosha.db.read(sql.existing_kcids, list(named))
        for kcid, account in named.items():
            if (kcid not in found or (account is not None and found[kcid] != account)
                    or not self.kosha.authz.manages(principal, found[kcid])):
                raise NotFound(f"user {kcid!r} not found" + (f" in account {account!r}" if account else ""))
        return found

    async def _row(self, principal: Principal, ref: Any, account_id: str | None) -> Row[Any]:
        """The policy `ref` names, if the caller manages it (and it is of `account_id`, if given)."""
        self.kosha.authz.require_manager(principal)
        row = await self.kosha.db.read(sql.get_policy, ref) if isinstance(ref, str) and ref else None
        if (row is None or not self.kosha.authz.manages(principal, row.account_id)
                or (account_id is not None and row.account_id != account_id)):
            raise NotFound(f"policy {ref!r} not found")
        return row

    async def _with_users(self, rows: Sequence[Row[Any]]) -> Policies:
        attached = await self.kosha.db.read(sql.attached_users, [r.policy_krn for r in rows])
        return [Policy.from_row(r, attached.get(r.policy_krn)) for r in rows]

    async def _write_named(self, fn: Any, name: str, *args: Any) -> Row[Any]:
        """Run an insert or update whose only possible conflict is the name."""
        try:
            return await self.kosha.db.write(invalidating(fn), *args)
        except IntegrityError:
            raise Conflict(f"a policy named {name!r} already exists in this account") from None


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise Unprocessable(f"'name' must be a non-empty string of at most {MAX_NAME} characters")
    return name.strip()


def _list_of(value: Any, what: str, kind: type) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise Invalid(f"'{what}' must be a non-empty list")
    if len(value) > MAX_BATCH:
        raise Invalid(f"'{what}' holds at most {MAX_BATCH} entries")
    if not all(isinstance(v, kind) for v in value):
        raise Unprocessable(f"every entry of '{what}' must be a{'n object' if kind is dict else ' string'}")
    return value


def _identify(index: int, user: dict[str, Any]) -> tuple[str, str | None]:
    """(kcid, account or None) of a user named by `kcid`, by its KRN, or both, and `accountId`.

    A user KRN is `krn:kos::<account>::user:<kcid>`; whatever is given must agree.
    """
    where = f"users[{index}]"
    kcid, krn, account = user.get("kcid"), user.get("krn"), user.get("accountId")
    for name, value in (("kcid", kcid), ("krn", krn), ("accountId", account)):
        if value is not None and not isinstance(value, str):
            raise Unprocessable(f"{where}.{name} must be a string")
    if krn:
        parts = krn.split(":")
        if len(parts) != 7 or parts[:2] != ["krn", "kos"] or parts[5] != "user" or not parts[6]:
            raise Unprocessable(f"{where}.krn is not a user KRN")
        if (kcid and kcid != parts[6]) or (account and account != parts[3]):
            raise Unprocessable(f"{where}: krn, kcid and accountId do not name the same user")
        kcid, account = parts[6], parts[3]
    if not kcid:
        raise Unprocessable(f"{where} must name a user by 'kcid' or 'krn'")
    return kcid, account or None
