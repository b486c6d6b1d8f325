"""The one place domain errors become KOS JSON errors."""

from __future__ import annotations

import json
import logging

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from ..errors import KoshaError, TooManyRequests, Unavailable

log = logging.getLogger("kosha.api")

# Raised by decoding what a client sent (text that is not Unicode, nesting past the stack) when a
# parser missed it: the request was bad, not the server, so they answer 400, never 500.
UNDECODABLE = (UnicodeError, RecursionError)


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
    if isinstance(exc, UNDECODABLE):
        log.warning("request input could not be decoded: %r", exc)
        return JSONResponse({"message": "the request holds text or nesting that cannot be "
                             f"decoded ({type(exc).__name__})", "code": 400}, status_code=400)
    if isinstance(exc, ClientDisconnect):   # an interrupted upload: nothing was stored
        log.info("client disconnected before sending the whole body")
        return JSONResponse({"message": "the client closed the connection before sending the "
                             "whole body", "code": 400}, status_code=400)
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"message": "internal server error", "code": 500}, status_code=500)


def with_request_id(response: Response, request_id: str | None) -> Response:
    """The error `response` with `requestId` in its JSON body: what a client quotes to the
    operator is what the access log (and the `x-request-id` header) shows."""
    if not request_id or not isinstance(response, JSONResponse):
        return response
    body = json.loads(response.body)
    if not isinstance(body, dict):
        return response
    body["requestId"] = request_id
    fixed = JSONResponse(body, status_code=response.status_code)
    fixed.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    fixed.raw_headers.append((b"content-length", str(len(fixed.body)).encode()))
    return fixed
