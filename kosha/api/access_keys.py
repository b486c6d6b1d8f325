"""`/kos/v1/access_keys`: list, create, delete one (the published `Buckets (keys)` family).

Create reads `key_name`, `region` and `tier` from the body, falling back to the `x-region-id` and
`x-tier` headers the official clients send; an unknown region is 400 listing the known ones.
Each key is answered with both spellings clients read (`access_key`/`access_key_id`,
`created_date`/`created_at`). Delete takes an optional `otp` (body or query), required only when
the account has MFA enabled. The operator's delete-all lives in `api.internal`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..services.access_keys import AccessKey
from .common import field, json_body, kosha, no_content, ok, principal

MAX_NAME = 255


def access_key_view(key: AccessKey) -> dict[str, Any]:
    """One key as the official clients read it; the secret only when just created."""
    view: dict[str, Any] = {
        "access_key": key.access_key, "access_key_id": key.access_key,
        "key_name": key.key_name, "region": key.region, "tier": key.tier,
        "status": key.status.capitalize(),
        "created_date": iso(key.created_at), "created_at": iso(key.created_at),
        "kcid": key.kcid,
    }
    if key.secret_key is not None:
        view["secret_key"] = key.secret_key
    return view


async def list_keys(request: Request) -> Response:
    caller = await principal(request)
    keys = await kosha(request).access_keys.list(caller)
    return ok([access_key_view(k) for k in keys])


async def create_key(request: Request) -> Response:
    caller = await principal(request)
    body = await json_body(request, required=False)
    key = await kosha(request).access_keys.create(
        caller,
        key_name=field(body, "key_name", str, max_length=MAX_NAME),
        region=field(body, "region", str, max_length=64) or request.headers.get("x-region-id"),
        tier=field(body, "tier", str, max_length=32) or request.headers.get("x-tier"))
    return ok(access_key_view(key), status=201)


async def delete_key(request: Request) -> Response:
    caller = await principal(request)
    body = await json_body(request, required=False)
    otp = field(body, "otp", str, max_length=16) or request.query_params.get("otp")
    await kosha(request).access_keys.delete(caller, request.path_params["accessKey"], otp)
    return no_content()


routes = [
    Route("/kos/v1/access_keys", list_keys, methods=["GET"]),
    Route("/kos/v1/access_keys", create_key, methods=["POST"]),
    Route("/kos/v1/access_keys/{accessKey}", delete_key, methods=["DELETE"]),
]
