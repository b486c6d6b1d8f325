"""The one place domain errors become KOS JSON errors."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from ..errors import KoshaError, TooManyRequests, Unavailable

log = logging.getLogger("kosha.api")


def kos_error_response(exc: KoshaError) -> Response:
    body: dict[str, object] = {"message": exc.message, "code": exc.status}
    headers = {}
    if isinstance(exc, TooManyRequests):
        body["error"] = exc.message
        body["retryAfter"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Unavailable):
        body["retryAfter"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    body.update(exc.details)  # details may refine `code` (e.g. INVALID_CREDENTIALS)
    return JSONResponse(body, status_code=exc.status, headers=headers)


def error_response(exc: Exception) -> Response:
    """Any exception a handler raised, as the KOS JSON error a client reads (never a trace)."""
    if isinstance(exc, KoshaError):
        return kos_error_response(exc)
    if isinstance(exc, ClientDisconnect):   # an interrupted upload: nothing was stored
        log.info("client disconnected before sending the whole body")
        return JSONResponse({"message": "the client closed the connection before sending the "
                             "whole body", "code": 400}, status_code=400)
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"message": "internal server error", "code": 500}, status_code=500)
