"""Sessions: an access key and secret exchanged for a short-lived bearer token.

Tokens are opaque and high-entropy (256 bits) and stored only as SHA-256 hashes. One active
session per access key: activating again ends the older session. `refresh` (before expiry, with
the refresh token) rotates both tokens and extends the lifetime; `deactivate` ends a session;
`status` reports one (an ended or expired session is reported with `active` false, not as an
error; an unknown token is 404).

Failed activations are limited in memory, per access key and per client address: after
`MAX_FAILURES` within `FAILURE_WINDOW` seconds, further attempts (even correct ones) get 429
until the oldest failure leaves the window. A success clears the count of its key, not of its
address. The limit is per process, which is what a single-node or sticky deployment needs.
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

MAX_FAILURES = 5
FAILURE_WINDOW = 60.0
MAX_TRACKED = 100_000


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
    """Failures per subject (an access key, an address) in a sliding window, in memory."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def check(self, *subjects: str) -> None:
        """Raise 429 if any subject is at its limit."""
        now = time.monotonic()
        for subject in subjects:
            times = self._recent(subject, now)
            if len(times) >= self.limit:
                wait = max(1, math.ceil(times[0] + self.window - now))
                raise TooManyRequests("too many failed session activations; retry later",
                                      retry_after=wait)

    def fail(self, *subjects: str) -> None:
        now = time.monotonic()
        if len(self._failures) >= MAX_TRACKED:
            self._failures = {s: t for s, t in self._failures.items() if self._recent(s, now)}
        for subject in subjects:
            self._failures.setdefault(subject, deque(maxlen=self.limit)).append(now)

    def reset(self, subject: str) -> None:
        self._failures.pop(subject, None)

    def _recent(self, subject: str, now: float) -> deque[float]:
        times = self._failures.get(subject, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


class SessionService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self.limiter = FailureLimiter()

    async def activate(self, access_key: str, secret_key: str, client: str = "") -> Session:
        """A new session for the key (ending its previous one); 401 on wrong credentials."""
        subjects = (f"key:{access_key}", f"addr:{client}")
        self.limiter.check(*subjects)
        principal = await self.kosha.access_keys.verify(access_key, secret_key)
        if principal is None:
            self.limiter.fail(*subjects)
            raise Unauthenticated("invalid access key or secret key")
        self.limiter.reset(subjects[0])
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
        await self._row(key)
        await self.kosha.db.write(sql.end_session, key)
        self.kosha.auth.forget(key)

    async def status(self, token: str) -> Session:
        return Session.from_row(await self._row(token_hash(token)), self.kosha.clock.now())

    async def _row(self, key: str) -> Row[Any]:
        row = await self.kosha.db.read(sql.get_session, key)
        if row is None:
            raise NotFound("session not found")
        return row
