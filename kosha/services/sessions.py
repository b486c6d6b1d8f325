"""Sessions: an access key and secret exchanged for a short-lived bearer token.

Tokens are opaque and high-entropy (256 bits) and stored only as SHA-256 hashes. One active
session per access key: activating again ends the older session. `refresh` (before expiry, with
the refresh token) rotates both tokens and extends the lifetime; `deactivate` ends a session;
`status` reports one (an ended or expired session is reported with `active` false, not as an
error; an unknown token is 404).

Failed activations are limited in memory (`FailureLimiter`), counted per key and address pair,
per key and per address, so that neither a stranger nor a neighbour can lock anyone out: see
docs/hardening.md, section L. The limit is per process, which is what a single-node or sticky
deployment needs.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, TooManyRequests, Unauthenticated
from ..ids import new_token
from ..store import identity as sql
from .auth import token_hash

if TYPE_CHECKING:
    from sqlalchemy import Row

    from .container import Kosha

FAILURE_WINDOW = 60.0
MAX_TRACKED = 100_000   # subjects per count kept before the ones with no recent failure are dropped


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


class FailureLimiter:
    """Failed activations in a sliding window, counted per (key, address), per key, per address.

    An address at `pair_limit` failures on a key is refused that key. The key and address counts
    only refuse attempts from an address that has itself failed on that key: a key under attack
    from many addresses stays usable from the holder's address, and an address spraying keys
    (a shared NAT, a proxy) is slowed on those keys only, never on the keys of its neighbours.
    """

    def __init__(self, pair_limit: int, key_limit: int, address_limit: int,
                 window: float = FAILURE_WINDOW) -> None:
        self.window = window
        self._pairs = _Window(pair_limit, window)
        self._keys = _Window(key_limit, window)
        self._addresses = _Window(address_limit, window)

    def check(self, key: str, address: str) -> None:
        """Raise 429 if this address may not try this key now."""
        now = time.monotonic()
        pair = self._pairs.recent((key, address), now)
        if not pair:
            return
        for count, subject in ((self._pairs, (key, address)), (self._keys, key),
                               (self._addresses, address)):
            times = count.recent(subject, now)
            if len(times) >= count.limit:
                wait = max(1, math.ceil(times[0] + self.window - now))
                raise TooManyRequests("too many failed session activations; retry later",
                                      retry_after=wait)

    def fail(self, key: str, address: str) -> None:
        now = time.monotonic()
        self._pairs.add((key, address), now)
        self._keys.add(key, now)
        self._addresses.add(address, now)

    def succeed(self, key: str, address: str) -> None:
        self._pairs.forget((key, address))


class _Window:
    """Times of the recent failures of each subject, at most `limit` kept per subject."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._times: dict[Any, deque[float]] = {}

    def recent(self, subject: Any, now: float) -> deque[float]:
        times = self._times.get(subject)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def add(self, subject: Any, now: float) -> None:
        if len(self._times) >= MAX_TRACKED:
            self._times = {s: t for s, t in self._times.items() if self.recent(s, now)}
        self._times.setdefault(subject, deque(maxlen=self.limit)).append(now)

    def forget(self, subject: Any) -> None:
        self._times.pop(subject, None)


class SessionService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        settings = kosha.settings
        self.limiter = FailureLimiter(settings.activation_failures_per_key_address,
                                      settings.activation_failures_per_key,
                                      settings.activation_failures_per_address)

    async def activate(self, access_key: str, secret_key: str, client: str = "") -> Session:
        """A new session for the key (ending its previous one); 401 on wrong credentials."""
        self.limiter.check(access_key, client)
        principal = await self.kosha.access_keys.verify(access_key, secret_key)
        if principal is None:
            self.limiter.fail(access_key, client)
            raise Unauthenticated("invalid access key or secret key")
        self.limiter.succeed(access_key, client)
        now = self.kosha.clock.now()
        token, refresh = new_token(), new_token()
        values = dict(token_hash=token_hash(token), refresh_hash=token_hash(refresh),
                      access_key=access_key, kcid=principal.kcid, account_id=principal.account_id,
                      active=True, created_at=now, expires_at=now + self.kosha.settings.session_lifetime,
                      last_active_at=now)
        ended = await self.kosha.db.write(sql.open_session, values)
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
        if not await self.kosha.db.write(sql.rotate_session, key, row.refresh_hash, values):
            raise NotFound("session not found")   # refreshed or ended concurrently
        self.kosha.auth.forget(key)
        return Session(active=True, created_at=row.created_at, expires_at=values["expires_at"],
                       last_active_at=now, token=token, refresh_token=refresh)

    async def deactivate(self, token: str) -> None:
        key = token_hash(token)
        ended = await self.kosha.db.write(sql.end_session, key, self.kosha.clock.now())
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
