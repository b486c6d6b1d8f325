"""Access keys: create, list, delete, and the secret lookup behind S3 SigV4 and sessions.

A key belongs to one customer user. Members see and delete their own keys; account admins see
and delete every key of their account; another tenant's key answers 404, as if it did not exist.
The secret is returned once, at creation, and stored sealed with the master key.

`DELETE /internal/kos/v1/access_keys_all` (`delete_all`, operator only) deletes every key of the
account named by the `account_id` query parameter (optionally only those of the user `kcid`),
or, without one, of the operator's own account -- always except the key the operator is calling
with, so that the call cannot lock its caller out. Deleting a key also ends its sessions.
An unknown account is 404; an account with no keys left to delete is still 204 (idempotent).

`secret_for` answers from memory after the first lookup (one DB read per key per
`SECRET_CACHE_SECONDS` across processes; deletion in this process takes effect at once).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from ..errors import Invalid, NotFound
from ..ids import new_access_key, new_secret_key, user_krn
from ..store import identity as sql
from ..store.generation import invalidating
from ..cache import TTLCache, epoch
from .principal import ANONYMOUS, Principal

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

SECRET_CACHE_SECONDS = 10.0
UNKNOWN_CACHE_SECONDS = 2.0
ACTIVE = "active"
_UNKNOWN: tuple[str, Principal] = ("", ANONYMOUS)   # cached answer for "no such active key"
Strings = list[str]   # (the `list` method shadows the builtin inside the class)


@dataclass(frozen=True)
class AccessKey:
    access_key: str
    kcid: str
    account_id: str
    key_name: str | None
    region: str
    tier: str
    status: str
    created_at: float
    secret_key: str | None = None      # only right after creation

    @classmethod
    def from_row(cls, row: Row[Any], secret_key: str | None = None) -> AccessKey:
        return cls(access_key=row.access_key, kcid=row.kcid, account_id=row.account_id,
                   key_name=row.key_name, region=row.region, tier=row.tier, status=row.status,
                   created_at=row.created_at, secret_key=secret_key)

    @classmethod
    def created(cls, values: dict[str, Any], secret_key: str) -> AccessKey:
        """From the row values of `new_key_values`, with the plain secret."""
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k != "secret_key"},
                   secret_key=secret_key)


class AccessKeyService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._secrets: TTLCache[str, tuple[str, Principal]] = TTLCache(SECRET_CACHE_SECONDS)

    # -- for S3 and sessions -----------------------------------------------------------------
    async def secret_for(self, access_key: str) -> tuple[str, Principal] | None:
        """The plain secret of an active key and the principal it stands for; None if unknown."""
        cached = self._secrets.get(access_key)
        if cached is not None:
            return None if cached is _UNKNOWN else cached
        since = epoch()
        row = await self.kosha.db.read(sql.get_access_key, access_key)
        if row is None or row.status != ACTIVE:
            self._secrets.put(access_key, _UNKNOWN, UNKNOWN_CACHE_SECONDS, since=since)
            return None
        found = (self.kosha.secrets.decrypt(row.secret),
                 Principal(account_id=row.account_id, kcid=row.kcid, is_admin=bool(row.is_admin),
                           is_operator=bool(row.is_operator), access_key=row.access_key))
        self._secrets.put(access_key, found, since=since)
        return found

    async def verify(self, access_key: str, secret_key: str) -> Principal | None:
        """The key's principal if `secret_key` is its secret (constant-time comparison)."""
        found = await self.secret_for(access_key)
        if found is None or not hmac.compare_digest(found[0].encode(), secret_key.encode()):
            return None
        return found[1]

    # -- the API -----------------------------------------------------------------------------
    async def create(self, principal: Principal, *, key_name: str | None = None,
                     region: str | None = None, tier: str | None = None) -> AccessKey:
        """A new key for the caller; the answer carries the secret, this once."""
        await self.kosha.authz.require(principal, "kos:CreateAccessKey",
                                       user_krn(principal.account_id, principal.kcid))
        for _attempt in range(3):
            values, secret = self.new_key_values(principal.kcid, principal.account_id,
                                                 key_name=key_name, region=region, tier=tier)
            try:
                await self.kosha.db.write(invalidating(sql.insert_access_key), values)
            except IntegrityError:
                continue   # a generated key collided with an existing one: draw again
            self._secrets.pop(values["access_key"])
            return AccessKey.created(values, secret)
        raise RuntimeError("could not generate a unique access key")

    async def list(self, principal: Principal) -> list[AccessKey]:
        """The caller's keys (members) or all of the account's keys (admins); never secrets."""
        await self.kosha.authz.require(principal, "kos:ListAccessKeys",
                                       user_krn(principal.account_id, principal.kcid))
        owner = None if principal.can_do_anything else principal.kcid
        rows = await self.kosha.db.read(sql.list_access_keys, principal.account_id, owner)
        return [AccessKey.from_row(r) for r in rows]

    async def delete(self, principal: Principal, access_key: str, otp: str | None = None) -> None:
        row = await self.kosha.db.read(sql.get_access_key, access_key)
        if (row is None or row.account_id != principal.account_id
                or not (principal.can_do_anything or row.kcid == principal.kcid)):
            raise NotFound(f"access key {access_key!r} not found")
        await self.kosha.authz.require(principal, "kos:DeleteAccessKey",
                                       user_krn(row.account_id, row.kcid))
        await self.kosha.accounts.require_otp(principal, otp)
        await self._delete([access_key])

    async def delete_all(self, principal: Principal, account_id: str | None = None,
                         kcid: str | None = None) -> int:
        """Operator only: see the module docstring. The number of keys deleted."""
        self.kosha.authz.require_operator(principal)
        target = account_id or principal.account_id
        if await self.kosha.db.read(sql.get_account, target) is None:
            raise NotFound(f"account {target!r} not found")
        rows = await self.kosha.db.read(sql.list_access_keys, target, kcid)
        keys = [r.access_key for r in rows if r.access_key != principal.access_key]
        await self._delete(keys)
        return len(keys)

    async def _delete(self, keys: Strings) -> None:
        ended = await self.kosha.db.write(invalidating(sql.delete_access_keys), keys)
        self.forget(keys, ended)

    def forget(self, keys: Strings, session_hashes: Strings) -> None:
        """Keys deleted or their user's roles changed: drop the principals cached for them."""
        for key in keys:
            self._secrets.pop(key)
        self.kosha.auth.forget(*session_hashes)

    # -- for the account service -------------------------------------------------------------
    def new_key_values(self, kcid: str, account_id: str, *, key_name: str | None = None,
                       region: str | None = None, tier: str | None = None,
                       access_key: str | None = None, secret: str | None = None
                       ) -> tuple[dict[str, Any], str]:
        """The row of a new key (region and tier validated) and its plain secret."""
        settings = self.kosha.settings
        chosen = settings.region(region) if region else settings.default_region
        if chosen is None:
            raise Invalid(f"unknown region {region!r}; known regions: "
                          f"{', '.join(settings.region_names)}")
        if tier and tier != chosen.tier:
            raise Invalid(f"tier {tier!r} is not offered in region {chosen.name!r}, whose tier is "
                          f"{chosen.tier!r}")
        secret = secret or new_secret_key()
        values = dict(access_key=access_key or new_access_key(), kcid=kcid, account_id=account_id,
                      key_name=key_name, region=chosen.name, tier=chosen.tier,
                      secret=self.kosha.secrets.encrypt(secret), status=ACTIVE,
                      created_at=self.kosha.clock.now())
        return values, secret
