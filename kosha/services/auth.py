"""Who is calling the KOS REST API: session tokens, JWTs and (opt-in) the customer header alone.

Accepted credentials, in `Authorization: Bearer <token>` or `x-session-token: <token>`:

* a session token from `/kos/v1/sessions/activate` (opaque, looked up by its SHA-256);
* a JWT signed with the operator's HS256 secret (`--jwt-secret`) or with an RS256/ES256 key from
  the JWKS file (`--jwks-file`), for deployments with an identity provider. Claims: `sub` (or
  `kcid`) names the customer user, who must exist; `account_id`, when present, must be that
  user's account; `exp`/`nbf` are checked against the server clock. `aud` is not checked.

The web console's browser sends the session in the `kosha_session` cookie instead (HttpOnly, set
by `/console/api/login`). A cookie alone is never enough: the request must also carry
`X-CSRF-Token` equal to `csrf_token(session)`, an HMAC of the session's hash under a key derived
from the master key, which a page of another site cannot read or send. Requests with a bearer
token never look at the cookie.

`K-Customer-ID` and `x-account-id`, when sent, must agree with the credential's principal (403).
With `--insecure-dev-auth` a request without a token is trusted to be the user `K-Customer-ID`
names, for local emulation only.

This runs on every request, so a warm request costs one SHA-256 and a dict lookup: principals are
cached per token hash for a few seconds. Ending a session in this process forgets it at once;
other processes sharing the database clear their caches when the cache generation moves
(kosha.services.generation, within a fraction of a second), and at worst after
`TOKEN_CACHE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from ..errors import Forbidden, Unauthenticated
from ..store import identity as sql
from ..cache import TTLCache, epoch
from .principal import Principal

if TYPE_CHECKING:
    from .container import Kosha

log = logging.getLogger("kosha.auth")

TOKEN_CACHE_SECONDS = 5.0
USER_CACHE_SECONDS = 10.0
TOUCH_EVERY = 60.0          # seconds between writes of a session's lastActiveAt
JWT_LEEWAY = 30.0           # seconds of clock skew tolerated on exp/nbf
JWT_ALGORITHMS = ("HS256", "RS256", "ES256")
SESSION_COOKIE = "kosha_session"


def token_hash(token: str) -> str:
    """How tokens are stored and cached: never in the clear."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float           # on the server clock; inf for a JWT without `exp`


class AuthService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._tokens: TTLCache[str, _Verified] = TTLCache(TOKEN_CACHE_SECONDS)
        self._users: TTLCache[str, Principal] = TTLCache(USER_CACHE_SECONDS)
        self._jwt = JwtVerifier(kosha.settings.jwt_secret, kosha.settings.jwks_file)
        self._csrf_key = kosha.secrets.subkey("console-csrf")
        self.successes = 0       # exported by /metrics
        self.failures = 0

    async def authenticate_kos(self, headers: Mapping[str, str], client: str = "") -> Principal:
        """The caller of a KOS request (`headers` with lowercase names, as Starlette gives them)."""
        try:
            principal = await self._authenticate(headers)
            _check_agreement(headers, principal)
        except (Unauthenticated, Forbidden):
            self.failures += 1
            raise
        self.successes += 1
        return principal

    async def _authenticate(self, headers: Mapping[str, str]) -> Principal:
        token = _token_from(headers)
        if token is not None:
            return await self._from_token(token)
        token = session_cookie(headers.get("cookie"))
        if token is not None:
            if not hmac.compare_digest(headers.get("x-csrf-token", ""), self.csrf_token(token)):
                raise Forbidden("missing or invalid X-CSRF-Token header: the console's session "
                                "cookie is accepted only with it", code="CSRF_TOKEN_INVALID")
            return await self._from_token(token)
        kcid = headers.get("k-customer-id")
        if self.kosha.settings.insecure_dev_auth and kcid:
            return await self.principal_for_user(kcid)
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <session token"
                              " or JWT>' (see POST /kos/v1/sessions/activate)")

    async def principal_for_user(self, kcid: str) -> Principal:
        """The principal of an existing customer user (401 if there is none), cached briefly."""
        principal = self._users.get(kcid)
        if principal is None:
            since = epoch()
            row = await self.kosha.db.read(sql.get_user, kcid)
            if row is None:
                raise Unauthenticated("unknown customer user")
            principal = Principal(account_id=row.account_id, kcid=row.kcid,
                                  is_admin=bool(row.is_admin), is_operator=bool(row.is_operator))
            self._users.put(kcid, principal, since=since)
        return principal

    def csrf_token(self, session_token: str) -> str:
        """The anti-CSRF token of a console session (the same in every process of a deployment)."""
        return hmac.new(self._csrf_key, token_hash(session_token).encode(), hashlib.sha256).hexdigest()

    def forget(self, *token_hashes: str) -> None:
        """Drop cached principals of sessions that just ended (deactivate, refresh, key deleted)."""
        for h in token_hashes:
            self._tokens.pop(h)

    # -- tokens ------------------------------------------------------------------------------
    async def _from_token(self, token: str) -> Principal:
        key = token_hash(token)
        now = self.kosha.clock.now()
        verified = self._tokens.get(key)
        if verified is None:
            since = epoch()
            verified = await (self._from_jwt(token) if token.count(".") == 2
                              else self._from_session(key, now))
            self._tokens.put(key, verified, since=since)
        if now >= verified.expires_at:
            self._tokens.pop(key)
            raise Unauthenticated("the session or token has expired")
        return verified.principal

    async def _from_session(self, key: str, now: float) -> _Verified:
        row = await self.kosha.db.read(sql.get_session, key)
        if row is None or not row.active:
            raise Unauthenticated("invalid or inactive session token")
        if now - row.last_active_at >= TOUCH_EVERY and now < row.expires_at:
            self.kosha.in_background(self.kosha.db.write(sql.touch_session, key, now))
        principal = Principal(account_id=row.account_id, kcid=row.kcid, is_admin=bool(row.is_admin),
                              is_operator=bool(row.is_operator), access_key=row.access_key)
        return _Verified(principal, row.expires_at)

    async def _from_jwt(self, token: str) -> _Verified:
        claims = self._jwt.verify(token, self.kosha.clock.now())
        kcid = claims.get("kcid") or claims.get("sub")
        if not isinstance(kcid, str) or not kcid:
            raise Unauthenticated("the token names no customer user ('sub' or 'kcid')")
        principal = await self.principal_for_user(kcid)
        account = claims.get("account_id")
        if account is not None and str(account) != principal.account_id:
            raise Unauthenticated("the token's account_id is not its user's account")
        exp = claims.get("exp")
        return _Verified(principal, float(exp) + JWT_LEEWAY if exp is not None else math.inf)


def _token_from(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("unsupported Authorization scheme: use 'Bearer <token>'")
        return token.strip()
    return headers.get("x-session-token") or None


def session_cookie(header: str | None) -> str | None:
    """The console's session token from a Cookie header, if there is one."""
    if not header or SESSION_COOKIE not in header:
        return None
    for item in header.split(";"):
        name, _, value = item.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


def _check_agreement(headers: Mapping[str, str], principal: Principal) -> None:
    kcid = headers.get("k-customer-id")
    if kcid and kcid != principal.kcid:
        raise Forbidden("K-Customer-ID does not match the authenticated user")
    account = headers.get("x-account-id")
    if account and account != principal.account_id:
        raise Forbidden("x-account-id does not match the authenticated user's account")


class JwtVerifier:
    """Checks JWT signatures against the configured HS256 secret and JWKS public keys."""

    def __init__(self, secret: str | None, jwks_file: Path | None) -> None:
        self._secret = secret
        self._keys: list[jwt.PyJWK] = []
        if jwks_file is not None:
            document = json.loads(Path(jwks_file).read_text())
            self._keys = [k for k in jwt.PyJWKSet.from_dict(document).keys
                          if k.algorithm_name in ("RS256", "ES256")]

    def verify(self, token: str, now: float) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        alg = header.get("alg")
        if alg not in JWT_ALGORITHMS:
            raise Unauthenticated(f"unsupported token algorithm {alg!r}")
        for key in self._candidates(alg, header.get("kid")):
            try:
                claims = jwt.decode(token, key, algorithms=[alg], options={
                    "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                    "verify_aud": False})
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise Unauthenticated("malformed token") from None
            _check_times(claims, now)
            return claims
        raise Unauthenticated("the token's signature is not valid")

    def _candidates(self, alg: str, kid: object) -> list[Any]:
        if alg == "HS256":
            return [self._secret] if self._secret else []
        keys = [k for k in self._keys if k.algorithm_name == alg]
        if kid is not None:
            keys = [k for k in keys if k.key_id == kid]
        return [k.key for k in keys]


def _check_times(claims: dict[str, Any], now: float) -> None:
    try:
        exp = float(claims["exp"]) if "exp" in claims else None
        nbf = float(claims["nbf"]) if "nbf" in claims else None
    except (TypeError, ValueError):
        raise Unauthenticated("malformed token times") from None
    if exp is not None and now > exp + JWT_LEEWAY:
        raise Unauthenticated("the token has expired")
    if nbf is not None and now < nbf - JWT_LEEWAY:
        raise Unauthenticated("the token is not valid yet")
