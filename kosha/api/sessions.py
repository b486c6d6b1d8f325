"""`/kos/v1/sessions/...`: activate, refresh, deactivate, status (Session Management).

The session token in the path is the credential of refresh, deactivate and status: no bearer
header is needed (the published `SessionToken` scheme is undefined, and a client holding the
token can already use it as a bearer). Refresh also needs the refresh token.

Activation errors have the published shape `{"error", "code"}` with a string code
(`MALFORMED_REQUEST` 400, `INVALID_CREDENTIALS` 401), plus `message` like every other error;
429 carries `retryAfter` and a `Retry-After` header. Answers add snake-case duplicates
(`session_token`, `refresh_token`, `expires_at`, ...) for the clients that read those.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..clock import iso
from ..errors import Invalid, NotFound, Unauthenticated
from ..services.sessions import Session
from .common import field, json_body, kosha, no_content, ok

MAX_CREDENTIAL = 256


def session_view(session: Session) -> dict[str, Any]:
    times = {"expiresAt": iso(session.expires_at), "lastActiveAt": iso(session.last_active_at),
             "createdAt": iso(session.created_at)}
    view: dict[str, Any] = {"isActive": session.active, **times}
    if session.token is not None:
        view.update(sessionToken=session.token, refreshToken=session.refresh_token)
    for name, value in list(view.items()):
        view[_snake(name)] = value
    return view


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _activation_error(exc: Invalid | Unauthenticated) -> Response:
    status, code = ((401, "INVALID_CREDENTIALS") if isinstance(exc, Unauthenticated)
                    else (413, "MALFORMED_REQUEST") if exc.status == 413
                    else (400, "MALFORMED_REQUEST"))
    return JSONResponse({"error": exc.message, "code": code, "message": exc.message},
                        status_code=status)


def _token(request: Request) -> str:
    token: str = request.path_params["sessionToken"]
    if not token or len(token) > MAX_CREDENTIAL:
        raise NotFound("session not found")
    return token


async def activate(request: Request) -> Response:
    try:
        body = await json_body(request)
        access_key = field(body, "accessKey", str, required=True, max_length=MAX_CREDENTIAL)
        secret_key = field(body, "secretKey", str, required=True, max_length=MAX_CREDENTIAL)
        session = await kosha(request).sessions.activate(
            access_key, secret_key, client=request.client.host if request.client else "")
    except (Invalid, Unauthenticated) as exc:
        return _activation_error(exc)
    return ok(session_view(session))


async def refresh(request: Request) -> Response:
    token = _token(request)
    body = await json_body(request)
    refresh_token = field(body, "refreshToken", str, required=True, max_length=MAX_CREDENTIAL)
    return ok(session_view(await kosha(request).sessions.refresh(token, refresh_token)))


async def deactivate(request: Request) -> Response:
    await kosha(request).sessions.deactivate(_token(request))
    return no_content()


async def status(request: Request) -> Response:
    return ok(session_view(await kosha(request).sessions.status(_token(request))))


routes = [
    Route("/kos/v1/sessions/activate", activate, methods=["POST"]),
    Route("/kos/v1/sessions/refresh/{sessionToken}", refresh, methods=["POST"]),
    Route("/kos/v1/sessions/deactivate/{sessionToken}", deactivate, methods=["DELETE"]),
    Route("/kos/v1/sessions/status/{sessionToken}", status, methods=["GET"]),
]
