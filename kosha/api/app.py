"""The KOS REST application: routes from one module per family of operations.

A lean ASGI router over Starlette's `Route`s, `Request` and `Response`: Starlette's full
application stack (two exception middlewares, the router, a wrapper per route) cost as much as a
small download's own work. Errors become KOS JSON in one place (`errors.error_response`), with
the request id `observe.Observed` gave the request.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from ..console import routes as console
from ..errors import MethodNotAllowed, NotFound
from ..services.container import Kosha
from . import (access_keys, account, account_policies, bucket_policies, buckets, internal,
               lifecycle, meta, notifications, objects, policies, sessions, uploads, versions)
from .errors import error_response, with_request_id

ROUTES: list[Route] = [
    *objects.routes,           # first: the busiest routes are matched first
    *versions.routes,
    *uploads.routes,
    *account.routes,
    *account_policies.routes,
    *meta.routes,
    *sessions.routes,
    *access_keys.routes,
    *bucket_policies.routes,   # before buckets: /kos/v1/buckets/policy/{bucketKrn}
    *buckets.routes,
    *lifecycle.routes,
    *notifications.routes,
    *policies.routes,
    *internal.routes,
    *console.routes,           # /console: the web console's pages and sign-in
]


class KosApp:
    def __init__(self, kosha: Kosha, routes: list[Route]) -> None:
        self.routes = routes
        self.kosha = kosha

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        scope["app"] = self
        scope["kosha"] = self.kosha
        request = Request(scope, receive, send)
        try:
            response = await self._dispatch(scope, request)
        except Exception as exc:  # every failure, domain or not, answers as KOS JSON
            response = error_response(exc)
        if response.status_code >= 400:
            response = with_request_id(response, scope.get("request_id"))
        await response(scope, receive, send)

    async def _dispatch(self, scope: dict[str, Any], request: Request) -> Response:
        allowed: list[str] = []
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return await route.endpoint(request)  # type: ignore[no-any-return]
            if match is Match.PARTIAL:
                allowed += sorted(route.methods or ())
        if allowed:
            raise MethodNotAllowed(f"method {scope['method']} is not allowed here",
                                   allow=", ".join(dict.fromkeys(allowed)))
        raise NotFound(f"no such route: {scope['path']}")


def build_kos_app(kosha: Kosha) -> KosApp:
    return KosApp(kosha, ROUTES)

