"""The KOS REST application: routes from one module per family of operations."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from ..services.container import Kosha
from . import (access_keys, bucket_policies, buckets, internal, lifecycle, meta, objects, policies,
               sessions)
from .errors import EXCEPTION_HANDLERS


def build_kos_app(kosha: Kosha) -> Starlette:
    routes: list[BaseRoute] = [
        *objects.routes,           # first: the busiest routes are matched first
        *meta.routes,
        *sessions.routes,
        *access_keys.routes,
        *bucket_policies.routes,   # before buckets: /kos/v1/buckets/policy/{bucketKrn}
        *buckets.routes,
        *lifecycle.routes,
        *policies.routes,
        *internal.routes,
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
                    middleware=[Middleware(meta.MetricsMiddleware)])
    app.state.kosha = kosha
    return app
