"""KOS REST extension: a bucket's event notification configuration, and the operator's targets.

`GET|PUT /kos/v1/buckets/{bucketId}/notifications` with `{"configurations": [...]}`: the same
configuration S3's `?notification` reads and writes (docs/notifications.md; validation in
kosha/notify/rules.py). An empty list removes it.

`GET /internal/kos/v1/notification-targets` (operator only): the targets `kosha serve` was given,
with the ARN a configuration names each by; URL secrets masked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import Unprocessable
from .common import json_body, kosha, ok, principal
from .internal import operator

BASE = "/kos/v1/buckets/{bucketId}/notifications"


async def get_notifications(request: Request) -> Response:
    configs = await kosha(request).notifications.get_config(await principal(request),
                                                            request.path_params["bucketId"])
    return ok({"configurations": configs})


async def put_notifications(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    configs = body.get("configurations")
    if not isinstance(configs, list):
        raise Unprocessable("'configurations' must be a list (empty to remove every configuration)")
    saved = await kosha(request).notifications.put_config(who, request.path_params["bucketId"],
                                                          configs)
    return ok({"configurations": saved})


async def list_targets(request: Request) -> Response:
    caller = await operator(request)
    return ok({"targets": kosha(request).notifications.targets(caller)})


routes = [
    Route(BASE, get_notifications, methods=["GET"]),
    Route(BASE, put_notifications, methods=["PUT"]),
    Route("/internal/kos/v1/notification-targets", list_targets, methods=["GET"]),
]
