"""KOS REST (Kosha's extension): the caller's own account, `/kos/v1/account...`.

`GET /kos/v1/account` answers who the caller is, for any signed-in user. See
docs/extensions.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import kosha, ok, principal

BASE = "/kos/v1/account"


async def whoami(request: Request) -> Response:
    who = await kosha(request).accounts.whoami(await principal(request))
    return ok({"account_id": who.account.account_id, "account_name": who.account.name,
               "kcid": who.user.kcid, "user_name": who.user.name, "krn": who.user.krn,
               "admin": who.user.is_admin, "operator": who.user.is_operator,
               "mfa_enabled": who.account.mfa_enabled, "access_key": who.access_key})


routes = [
    Route(BASE, whoami, methods=["GET"]),
]
