"""KOS REST (Kosha's extension): the caller's own account, `/kos/v1/account...`.

`GET /kos/v1/account` answers who the caller is, for any signed-in user. The users routes let an
account's admins manage its users without operator rights (services.accounts decides who may:
members get 403, another account's user 404). The policies routes live in `account_policies`.
See docs/extensions.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..services.accounts import User
from .access_keys import access_key_view
from .common import field, json_body, kosha, no_content, ok, principal
from .internal import MAX_NAME, user_view

BASE = "/kos/v1/account"
USERS = BASE + "/users"


def member_view(user: User) -> dict[str, Any]:
    return {**user_view(user), "policies": list(user.policies)}


async def whoami(request: Request) -> Response:
    who = await kosha(request).accounts.whoami(await principal(request))
    return ok({"account_id": who.account.account_id, "account_name": who.account.name,
               "kcid": who.user.kcid, "user_name": who.user.name, "krn": who.user.krn,
               "admin": who.user.is_admin, "operator": who.user.is_operator,
               "mfa_enabled": who.account.mfa_enabled, "access_key": who.access_key})


async def list_users(request: Request) -> Response:
    who = await principal(request)
    users = await kosha(request).accounts.list_users(who, who.account_id)
    return ok([member_view(u) for u in users])


async def create_user(request: Request) -> Response:
    """201 with the user and its first access key; the secret is shown this once."""
    who = await principal(request)
    body = await json_body(request)
    user, key = await kosha(request).accounts.create_user(
        who, who.account_id, field(body, "name", str, required=True, max_length=MAX_NAME),
        admin=field(body, "admin", bool, default=False))
    return ok({**access_key_view(key), **member_view(user)}, status=201)


async def update_user(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    user = await kosha(request).accounts.set_admin(who, who.account_id, request.path_params["kcid"],
                                                   field(body, "admin", bool, required=True))
    return ok(member_view(user))


async def delete_user(request: Request) -> Response:
    who = await principal(request)
    await kosha(request).accounts.delete_user(who, who.account_id, request.path_params["kcid"])
    return no_content()


routes = [
    Route(BASE, whoami, methods=["GET"]),
    Route(USERS, list_users, methods=["GET"]),
    Route(USERS, create_user, methods=["POST"]),
    Route(USERS + "/{kcid}", update_user, methods=["PUT"]),
    Route(USERS + "/{kcid}", delete_user, methods=["DELETE"]),
]
