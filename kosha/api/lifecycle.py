"""KOS REST: lifecycle rules of a bucket (`/kos/v1/buckets/{bucketId}/lifecycle-rules[/{ruleId}]`).

Rule fields are the published ones plus `prefix` (only keys under it are affected); answers add
`id` and `status` ("Enabled"/"Disabled"). PUT changes the fields it names and keeps the others.
Validation (non-negative integer days, at least one action, a name unique in the bucket: 409)
lives in services.lifecycle, where S3's lifecycle configuration shares it.

`GET .../lifecycle-rules/preview?days=N[&rule=<id>]` (a Kosha extension, docs/extensions.md):
what each rule will act on within N days, by day, as the expiry worker would.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..services.lifecycle_preview import MAX_DAYS
from .common import json_body, kosha, no_content, ok, principal, query_int

BASE = "/kos/v1/buckets/{bucketId}/lifecycle-rules"


async def list_rules(request: Request) -> Response:
    rules = await kosha(request).lifecycle.list_rules(await principal(request), request.path_params["bucketId"])
    return ok(rules)


async def create_rule(request: Request) -> Response:
    who = await principal(request)
    rule = await kosha(request).lifecycle.create_rule(who, request.path_params["bucketId"],
                                                      await json_body(request))
    return ok(rule, status=201)


async def get_rule(request: Request) -> Response:
    rule = await kosha(request).lifecycle.get_rule(await principal(request), request.path_params["bucketId"],
                                                   request.path_params["ruleId"])
    return ok(rule)


async def update_rule(request: Request) -> Response:
    who = await principal(request)
    rule = await kosha(request).lifecycle.update_rule(who, request.path_params["bucketId"],
                                                      request.path_params["ruleId"], await json_body(request))
    return ok(rule)


async def preview(request: Request) -> Response:
    who = await principal(request)
    days = query_int(request, "days", 30, lo=0, hi=MAX_DAYS)
    answer = await kosha(request).lifecycle.preview(who, request.path_params["bucketId"], days or 0,
                                                    request.query_params.get("rule"))
    return ok(answer)


async def delete_rule(request: Request) -> Response:
    await kosha(request).lifecycle.delete_rule(await principal(request), request.path_params["bucketId"],
                                               request.path_params["ruleId"])
    return no_content()


routes = [
    Route(BASE, list_rules, methods=["GET"]),
    Route(BASE, create_rule, methods=["POST"]),
    Route(BASE + "/preview", preview, methods=["GET"]),   # before /{ruleId}
    Route(BASE + "/{ruleId}", get_rule, methods=["GET"]),
    Route(BASE + "/{ruleId}", update_rule, methods=["PUT"]),
    Route(BASE + "/{ruleId}", delete_rule, methods=["DELETE"]),
]
