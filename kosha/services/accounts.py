"""Accounts (tenants), their users, the operator's bootstrap, and MFA for destructive calls.

The operator account has the fixed id `OPERATOR_ACCOUNT_ID`, so that two processes bootstrapping
the same empty database at once cannot both create one: the second insert fails and is ignored.
Admin users created in the operator account are operators too (the operator account is the
deployment's own administrators); its members are not.

Users are managed by the operator, in any account (through `/internal`), and by an account's
admins, in their own account only: members get 403, and another account's users answer 404
(`authz.require_manager`, `authz.manages`). A user's role change or deletion takes effect at
once for its sessions and keys in this process; a JWT's cached principal within
`auth.USER_CACHE_SECONDS`.

MFA: `mfa_enable` gives an account a TOTP secret (a new one on every call, for re-enrolment).
From then on deleting a bucket or an access key of that account needs a current `otp`: missing
is 400, wrong is 403. Accounts without MFA ignore any `otp` sent.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyotp
from sqlalchemy.exc import IntegrityError

from ..config import env
from ..errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from ..ids import new_account_id, new_kcid, user_krn
from ..store import identity as sql
from ..store.generation import invalidating
from .access_keys import AccessKey
from .principal import Principal

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

OPERATOR_ACCOUNT_ID = "000000000000"
OPERATOR_NAME = "operator"
MAX_NAME = 255
TOTP_ISSUER = "Kosha"
_ROOT_KEY = re.compile(r"^[A-Za-z0-9]{3,32}$")
_ROOT_SECRET = re.compile(r"^[\x21-\x7e]{8,128}$")

SYSTEM = Principal(account_id=OPERATOR_ACCOUNT_ID, kcid="system", is_admin=True, is_operator=True)
"""The principal of the command line, which works on the data directory directly."""


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    mfa_enabled: bool
    created_at: float

    @classmethod
    def from_row(cls, row: Row[Any]) -> Account:
        return cls(row.account_id, row.name, row.mfa_secret is not None, row.created_at)


@dataclass(frozen=True)
class User:
    kcid: str
    account_id: str
    name: str
    is_admin: bool
    is_operator: bool
    created_at: float
    policies: tuple[str, ...] = ()     # KRNs of the policies attached to it

    @property
    def krn(self) -> str:
        return user_krn(self.account_id, self.kcid)

    @classmethod
    def from_row(cls, row: Row[Any], policies: list[str] | None = None) -> User:
        return cls(row.kcid, row.account_id, row.name, bool(row.is_admin), bool(row.is_operator),
                   row.created_at, tuple(policies or ()))


@dataclass(frozen=True)
class Identity:
    """Who a caller is, as `GET /kos/v1/account` answers it."""
    account: Account
    user: User
    access_key: str | None          # the key its session came from (none for a JWT)


@dataclass(frozen=True)
class MfaEnrolment:
    account_id: str
    secret: str
    otpauth_uri: str


class AccountService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha

    # -- first start -------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """On an empty database: the operator account, its user and key; credentials shown once."""
        if self.kosha.db.read_sync(sql.operator_exists):
            return
        settings = self.kosha.settings
        access_key = settings.root_access_key or env("ROOT_ACCESS_KEY") or None
        secret = settings.root_secret_key or env("ROOT_SECRET_KEY") or None
        if access_key is not None and not _ROOT_KEY.match(access_key):
            raise ValueError("KOSHA_ROOT_ACCESS_KEY must be 3 to 32 letters and digits")
        if secret is not None and not _ROOT_SECRET.match(secret):
            raise ValueError("KOSHA_ROOT_SECRET_KEY must be 8 to 128 printable ASCII characters")
        now = self.kosha.clock.now()
        user = dict(kcid=new_kcid(), account_id=OPERATOR_ACCOUNT_ID, name=OPERATOR_NAME,
                    is_admin=True, is_operator=True, created_at=now)
        supplied = secret is not None
        key, secret = self.kosha.access_keys.new_key_values(
            user["kcid"], OPERATOR_ACCOUNT_ID, key_name="root", access_key=access_key, secret=secret)
        account = dict(account_id=OPERATOR_ACCOUNT_ID, name=OPERATOR_NAME, created_at=now)
        try:
            created = self.kosha.db.write_sync(sql.create_operator, account, user, key)
        except IntegrityError:
            created = False
        if not created:
            return   # another process bootstrapped the same database first
        self._announce(key["access_key"], secret, user["kcid"], supplied)

    def _announce(self, access_key: str, secret: str, kcid: str, supplied: bool) -> None:
        """Hand the operator its credentials without a secret ever reaching a log.

        Both go to root-credentials.json (0600). A supplied secret is never printed (the operator
        has it); a generated one is printed once, and only when stderr is a terminal: a server
        whose stderr is a log file or a journal names the file instead.
        """
        settings = self.kosha.settings
        document = {"access_key": access_key, "secret_key": secret,
                    "account_id": OPERATOR_ACCOUNT_ID, "kcid": kcid,
                    "kos_url": settings.kos_url, "s3_url": settings.s3_url}
        path = settings.data_dir / "root-credentials.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
        if supplied:
            shown = "(the one supplied in KOSHA_ROOT_SECRET_KEY)"
        elif sys.stderr.isatty():
            shown = secret
        else:
            shown = f"(not shown: stderr is not a terminal; read {path})"
        print(f"Kosha operator credentials (shown once; also in {path}):\n"
              f"  access key: {access_key}\n  secret key: {shown}\n"
              f"  account id: {OPERATOR_ACCOUNT_ID}\n  kcid:       {kcid}", file=sys.stderr)

    # -- accounts ----------------------------------------------------------------------------
    async def create_account(self, principal: Principal, name: str) -> Account:
        self.kosha.authz.require_operator(principal)
        values = dict(account_id=new_account_id(), name=_name(name),
                      created_at=self.kosha.clock.now())
        return Account.from_row(await self.kosha.db.write(sql.insert_account, values))

    async def list_accounts(self, principal: Principal) -> list[Account]:
        self.kosha.authz.require_operator(principal)
        return [Account.from_row(r) for r in await self.kosha.db.read(sql.list_accounts)]

    async def get_account(self, principal: Principal, account_id: str) -> Account:
        self.kosha.authz.require_operator(principal)
        return Account.from_row(await self._account_row(account_id))

    async def _account_row(self, account_id: str) -> Row[Any]:
        row = await self.kosha.db.read(sql.get_account, account_id)
        if row is None:
            raise NotFound(f"account {account_id!r} not found")
        return row

    async def whoami(self, principal: Principal) -> Identity:
        user = await self.kosha.db.read(sql.get_user, principal.kcid)
        if user is None:
            raise Unauthenticated("the signed-in user no longer exists")
        account = await self._account_row(principal.account_id)
        return Identity(Account.from_row(account), User.from_row(user), principal.access_key)

    # -- users -------------------------------------------------------------------------------
    async def create_user(self, principal: Principal, account_id: str, name: str, *,
                          admin: bool = False) -> tuple[User, AccessKey]:
        """A customer user and its first access key (whose secret is shown this once)."""
        await self._managed_account(principal, account_id)
        user = dict(kcid=new_kcid(), account_id=account_id, name=_name(name), is_admin=bool(admin),
                    is_operator=_is_operator(account_id, admin), created_at=self.kosha.clock.now())
        key, secret = self.kosha.access_keys.new_key_values(user["kcid"], account_id,
                                                            key_name="default")
        row = await self.kosha.db.write(sql.create_user_with_key, user, key)
        return User.from_row(row), AccessKey.created(key, secret)

    async def user_exists(self, kcid: str) -> bool:
        """Is there a user with this id (an S3 canonical user id)? For validating ACL grantees."""
        return await self.kosha.db.read(sql.get_user, kcid) is not None

    async def list_users(self, principal: Principal, account_id: str) -> list[User]:
        await self._managed_account(principal, account_id)
        rows = await self.kosha.db.read(sql.list_users, account_id)
        attached = await self.kosha.db.read(sql.policies_by_user, [r.kcid for r in rows])
        return [User.from_row(r, attached.get(r.kcid)) for r in rows]

    async def set_admin(self, principal: Principal, account_id: str, kcid: str, admin: bool) -> User:
        """Make a user an admin of its account, or a member (never yourself: 409)."""
        await self._managed_user(principal, account_id, kcid)
        if kcid == principal.kcid and not admin:
            raise Conflict("you cannot take away your own admin rights")
        row = await self.kosha.db.write(invalidating(sql.set_admin), kcid, admin, _is_operator(account_id, admin))
        self.kosha.access_keys.forget(*await self.kosha.db.read(sql.credentials_of, kcid))
        attached = await self.kosha.db.read(sql.policies_by_user, [kcid])
        return User.from_row(row, attached.get(kcid))

    async def delete_user(self, principal: Principal, account_id: str, kcid: str) -> None:
        """A user and what lets it in: its keys and sessions end, its policies are detached."""
        await self._managed_user(principal, account_id, kcid)
        if kcid == principal.kcid:
            raise Conflict("you cannot delete yourself")
        self.kosha.access_keys.forget(*await self.kosha.db.write(invalidating(sql.delete_user), kcid))
        self.kosha.authz.forget()

    async def _managed_account(self, principal: Principal, account_id: str) -> Row[Any]:
        self.kosha.authz.require_manager(principal)
        if not self.kosha.authz.manages(principal, account_id):
            raise NotFound(f"account {account_id!r} not found")
        return await self._account_row(account_id)

    async def _managed_user(self, principal: Principal, account_id: str, kcid: str) -> Row[Any]:
        await self._managed_account(principal, account_id)
        row = await self.kosha.db.read(sql.get_user, kcid)
        if row is None or row.account_id != account_id:
            raise NotFound(f"user {kcid!r} not found")
        return row

    # -- MFA ---------------------------------------------------------------------------------
    async def mfa_enable(self, principal: Principal, account_id: str) -> MfaEnrolment:
        self.kosha.authz.require_operator(principal)
        account = await self._account_row(account_id)
        secret = pyotp.random_base32()
        await self.kosha.db.write(sql.set_mfa_secret, account_id, self.kosha.secrets.encrypt(secret))
        uri = pyotp.TOTP(secret).provisioning_uri(name=f"{account.name} ({account_id})",
                                                  issuer_name=TOTP_ISSUER)
        return MfaEnrolment(account_id, secret, uri)

    async def verify_otp(self, account_id: str, otp: str) -> bool:
        """Whether `otp` is a current TOTP code of the account (False without MFA)."""
        return self._otp_matches(await self.kosha.db.read(sql.get_account, account_id), otp)

    async def require_otp(self, principal: Principal, otp: Any) -> None:
        """Before a destructive call: with MFA enabled on the caller's account, a valid `otp`."""
        row = await self.kosha.db.read(sql.get_account, principal.account_id)
        if row is None or row.mfa_secret is None:
            return
        if otp is None or otp == "":
            raise Invalid("this account has MFA enabled: send the current 'otp'")
        if not isinstance(otp, str) or not (otp.isascii() and otp.isdigit()):
            raise Invalid("'otp' must be a string of digits")
        if not self._otp_matches(row, otp):
            raise Forbidden("invalid or expired otp")

    def _otp_matches(self, row: Row[Any] | None, otp: str) -> bool:
        if row is None or row.mfa_secret is None:
            return False
        totp = pyotp.TOTP(self.kosha.secrets.decrypt(row.mfa_secret))
        return totp.verify(otp, for_time=int(self.kosha.clock.now()), valid_window=1)


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid("'name' must be a non-empty string")
    if len(name) > MAX_NAME:
        raise Invalid(f"'name' is longer than {MAX_NAME} characters")
    return name.strip()


def _is_operator(account_id: str, admin: bool) -> bool:
    """Admins of the operator account are operators (see the module docstring)."""
    return bool(admin) and account_id == OPERATOR_ACCOUNT_ID

