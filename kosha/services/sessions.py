"""Sessions: an access key and secret exchanged for a short-lived bearer token.

Tokens are opaque and high-entropy (256 bits) and stored only as SHA-256 hashes. One active
session per access key: activating again ends the older session. `refresh` (before expiry, with
the refresh token) rotates both tokens and extends the lifetime; `deactivate` ends a session;
`status` reports one (an ended or expired session is reported with `active` false, not as an
error; an unknown token is 404).

Failed activations are limited per key and address pair, per key and per address, so that
neither a stranger nor a neighbour can lock anyone out (docs/hardening.md, section L); the counts
are in the database, shared by every server process (kosha.services.activation_limits).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, Unauthenticated
from ..ids import new_token
from ..store import identity as sql
from ..store.generation import invalidating
from .activation_limits import ActivationLimiter
from .auth import token_hash

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha


@dataclass(frozen=True)
class Session:
    active: bool
    created_at: float
    expires_at: float
    last_active_at: float
    token: str | None = None           # only when issued (activate, refresh)
    refresh_token: str | None = None

    @classmethod
    def from_row(cls, row: Row[Any], now: float) -> Session:
        return cls(active=bool(row.active) and now < row.expires_at, created_at=row.created_at,
                   expires_at=row.expires_at, last_active_at=row.last_active_at)


class SessionService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        settings = kosha.settings
        self.limiter = ActivationLimiter(kosha, settings.activation_failures_per_key_address,
                                         settings.activation_failures_per_key,
                                         settings.activation_failures_per_address)

    async def activate(self, access_key: str, secret_key: str, client: str = "") -> Session:
        """A new session for the key (ending its previous one); 401 on wrong credentials."""
        failed_before = await self.limiter.check(access_key, client)
        principal = await self.kosha.access_keys.verify(access_key, secret_key)
        if principal is None:
            await self.limiter.fail(access_key, client)
            raise Unauthenticated("invalid access key or secret key")
        if failed_before:
            await self.limiter.succeed(access_key, client)
        now = self.kosha.clock.now()
        token, refresh = new_token(), new_token()
        values = dict(token_hash=token_hash(token), refresh_hash=token_hash(refresh),
                      access_key=access_key, kcid=principal.kcid, account_id=principal.account_id,
                      active=True, created_at=now, expires_at=now + self.kosha.settings.session_lifetime,
                      last_active_at=now)
        ended = await self.kosha.db.write(invalidating(sql.open_session), values)
        self.kosha.auth.forget(*ended)
        return Session(active=True, created_at=now, expires_at=values["expires_at"],
                       last_active_at=now, token=token, refresh_token=refresh)

    async def refresh(self, token: str, refresh_token: str) -> Session:
        """New tokens and a new expiry for a live session: 404 unknown, 401 wrong or ended."""
        key = token_hash(token)
        row = await self._row(key)
        if not hmac.compare_digest(row.refresh_hash, token_hash(refresh_token)):
            raise Unauthenticated("invalid refresh token")
        now = self.kosha.clock.now()
        if not Session.from_row(row, now).active:
            raise Unauthenticated("the session has ended or expired; activate a new one")
        token, refresh = new_token(), new_token()
        values = dict(token_hash=token_hash(token), refresh_hash=token_hash(refresh),
                      expires_at=now + self.kosha.settings.session_lifetime, last_active_at=now)
        if not await self.kosha.db.write(invalidating(sql.rotate_session), key, row.refresh_hash, values):
            raise NotFound("session not found")   # refreshed or ended concurrently
        self.kosha.auth.forget(key)
        return Session(active=True, created_at=row.created_at, expires_at=values["expires_at"],
                       last_active_at=now, token=token, refresh_token=refresh)

    async def deactivate(self, token: str) -> None:
        key = token_hash(token)
        ended = await self.kosha.db.write(invalidating(sql.end_session), key, self.kosha.clock.now())
        self.kosha.auth.forget(key)
        if not ended:
            raise NotFound("session not found, or already ended")

    async def status(self, token: str) -> Session:
        return Session.from_row(await self._row(token_hash(token)), self.kosha.clock.now())

    async def _row(self, key: str) -> Row[Any]:
        row = await self.kosha.db.read(sql.get_session, key)
        if row is None:
            raise NotFound("session not found")
        return row
