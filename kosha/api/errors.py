"""The one place domain errors become KOS JSON errors."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import KoshaError, TooManyRequests

log = logging.getLogger("kosha.api")


def kos_error_response(exc: KoshaError) -> Response:
    body: dict[str, object] = {"message": exc.message, "code": exc.status}
    headers = {}
    if isinstance(exc, TooManyRequests):
        body["error"] = exc.message
        body["retryAfter"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    body.update(exc.details)  # details may refine `code` (e.g. INVALID_CREDENTIALS)
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def on_kosha_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KoshaError)
    return kos_error_response(exc)


async def on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail, "code": exc.status_code}, status_code=exc.status_code)


async def on_unexpected_error(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"message": "internal server error", "code": 500}, status_code=500)


EXCEPTION_HANDLERS = {
    KoshaError: on_kosha_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}
