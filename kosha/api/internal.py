"""The operator's `/internal/kos/v1/...` API: accounts, users, MFA, and deleting all keys.

Accounts and users are Kosha's extensions to the published API (marked in `/openapi.json`);
`access_keys_all` is published. Every route here, and the policy routes, first authenticates
(401) and then requires the operator (403), before the body is even read.

`DELETE /internal/kos/v1/access_keys_all?account_id=A[&kcid=U]` deletes the keys of account A
(of user U only, when given); without `account_id`, those of the operator's own account. The
key the operator is calling with is never deleted. (`K-Customer-ID` and `x-account-id` cannot
name the target: like everywhere else they must agree with the caller.)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..services.accounts import Account, User
from ..services.principal import Principal
from .access_keys import access_key_view
from .common import field, json_body, kosha, no_content, ok, principal

MAX_NAME = 255


async def operator(request: Request) -> Principal:
    """The caller, who must be the operator (401 without credentials, 403 for anyone else)."""
    caller = await principal(request)
    kosha(request).authz.require_operator(caller)
    return caller


def account_view(account: Account) -> dict[str, Any]:
    return {"account_id": account.account_id, "accountId": account.account_id,
            "name": account.name, "mfa_enabled": account.mfa_enabled,
            "created_at": iso(account.created_at)}


def user_view(user: User) -> dict[str, Any]:
    return {"kcid": user.kcid, "krn": user.krn, "account_id": user.account_id,
            "accountId": user.account_id, "name": user.name, "admin": user.is_admin,
            "operator": user.is_operator, "created_at": iso(user.created_at)}


async def list_accounts(request: Request) -> Response:
    accounts = await kosha(request).accounts.list_accounts(await operator(request))
    return ok([account_view(a) for a in accounts])


async def create_account(request: Request) -> Response:
    caller = await operator(request)
    body = await json_body(request)
    name = field(body, "name", str, required=True, max_length=MAX_NAME)
    return ok(account_view(await kosha(request).accounts.create_account(caller, name)), status=201)


async def get_account(request: Request) -> Response:
    caller = await operator(request)
    account = await kosha(request).accounts.get_account(caller, request.path_params["accountId"])
    return ok(account_view(account))


async def list_users(request: Request) -> Response:
    caller = await operator(request)
    users = await kosha(request).accounts.list_users(caller, request.path_params["accountId"])
    return ok([user_view(u) for u in users])


async def create_user(request: Request) -> Response:
    """201 with the user and its first access key; the secret is shown this once."""
    caller = await operator(request)
    body = await json_body(request)
    user, key = await kosha(request).accounts.create_user(
        caller, request.path_params["accountId"],
        field(body, "name", str, required=True, max_length=MAX_NAME),
        admin=field(body, "admin", bool, default=False))
    return ok({**access_key_view(key), **user_view(user)}, status=201)


async def enable_mfa(request: Request) -> Response:
    caller = await operator(request)
    enrolment = await kosha(request).accounts.mfa_enable(caller, request.path_params["accountId"])
    return ok({"account_id": enrolment.account_id, "secret": enrolment.secret,
               "otpauth_uri": enrolment.otpauth_uri})


async def delete_all_keys(request: Request) -> Response:
    caller = await operator(request)
    query = request.query_params
    await kosha(request).access_keys.delete_all(caller, query.get("account_id") or None,
                                                query.get("kcid") or None)
    return no_content()


routes = [
    Route("/internal/kos/v1/accounts", list_accounts, methods=["GET"]),
    Route("/internal/kos/v1/accounts", create_account, methods=["POST"]),
    Route("/internal/kos/v1/accounts/{accountId}", get_account, methods=["GET"]),
    Route("/internal/kos/v1/accounts/{accountId}/users", list_users, methods=["GET"]),
    Route("/internal/kos/v1/accounts/{accountId}/users", create_user, methods=["POST"]),
    Route("/internal/kos/v1/accounts/{accountId}/mfa", enable_mfa, methods=["POST"]),
    Route("/internal/kos/v1/access_keys_all", delete_all_keys, methods=["DELETE"]),
]
