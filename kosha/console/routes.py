"""HTTP routes of the console: its pages and assets, and sign-in, sign-out and session.

Signing in activates a KOS session (ending that key's previous one, as activation always does)
and sets it as the `kosha_session` cookie: HttpOnly (no script reads it), SameSite=Strict (no
other site's request carries it), Secure when the request came over https or the server's
`--public-url` is https (the server has no TLS of its own: a proxy in front terminates it, and
the request reaches us as http). The answer holds the
session's CSRF token, which the page sends as `X-CSRF-Token` with every API call; `GET
/console/api/session` answers it again after a reload. Sign-in and sign-out are refused when the
browser says the request came from another origin than this one or the public URL's. Every answer here carries the console's
Content-Security-Policy (no inline script or style), `nosniff` and `no-referrer`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..api.common import field, json_body, kosha
from ..api.errors import kos_error_response
from ..clock import iso
from ..errors import Forbidden, Invalid, KoshaError, NotFound, Unauthenticated
from ..services.auth import SESSION_COOKIE, session_cookie
from .assets import ASSETS

MAX_CREDENTIAL = 256
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _error(exc: KoshaError) -> Response:
    return _secured(kos_error_response(exc))


def _asset(request: Request, name: str) -> Response:
    asset = ASSETS.get(name)
    if asset is None:
        return _error(NotFound("no such console file"))
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return _secured(Response(status_code=304, headers=headers))
    return _secured(Response(asset.body, media_type=asset.content_type, headers=headers))


async def page(request: Request) -> Response:
    return _asset(request, "index.html")


async def static(request: Request) -> Response:
    return _asset(request, request.path_params["name"])


async def to_console(_request: Request) -> Response:
    return _secured(RedirectResponse("/console", status_code=307))


def _public_origin(request: Request) -> str | None:
    public_url = kosha(request).settings.public_url
    if not public_url:
        return None
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _secure(request: Request) -> bool:
    """Should the cookie be Secure: over https here, or behind a proxy that serves https."""
    return request.url.scheme == "https" or (_public_origin(request) or "").startswith("https://")


def _check_same_origin(request: Request) -> None:
    """Refuse what a browser marks as sent from another site (a forged sign-in or sign-out)."""
    origin = request.headers.get("origin")
    own = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower(), _public_origin(request)}
    if (origin is not None and origin.lower() not in own) or request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("cross-origin requests to the console are refused")


def _session_answer(csrf: str, expires_at: float) -> dict[str, Any]:
    return {"csrfToken": csrf, "expiresAt": iso(expires_at)}


async def login(request: Request) -> Response:
    try:
        _check_same_origin(request)
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Invalid("sign in with a JSON body", status=415)
        body = await json_body(request)
        access_key = field(body, "accessKey", str, required=True, max_length=MAX_CREDENTIAL)
        secret_key = field(body, "secretKey", str, required=True, max_length=MAX_CREDENTIAL)
        service = kosha(request)
        session = await service.sessions.activate(
            access_key.strip(), secret_key.strip(),
            client=request.client.host if request.client else "")
    except KoshaError as exc:
        return _error(exc)
    assert session.token is not None
    response = JSONResponse(_session_answer(service.auth.csrf_token(session.token),
                                            session.expires_at), headers={"Cache-Control": "no-store"})
    response.set_cookie(SESSION_COOKIE, session.token, path="/", httponly=True, samesite="strict",
                        secure=_secure(request),
                        max_age=max(1, int(session.expires_at - service.clock.now())))
    return _secured(response)


async def logout(request: Request) -> Response:
    """End the session (the CSRF header is required, as for any call) and clear the cookie."""
    try:
        _check_same_origin(request)
        token = session_cookie(request.headers.get("cookie"))
        if token is not None:
            await kosha(request).auth.authenticate_kos(request.headers)
            await kosha(request).sessions.deactivate(token)
    except Unauthenticated:
        pass   # already ended: clearing the cookie is all that is left to do
    except KoshaError as exc:
        return _error(exc)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))
    return _secured(response)


async def session(request: Request) -> Response:
    """The live session's CSRF token and expiry (401 when there is none), for a reloaded page."""
    token = session_cookie(request.headers.get("cookie"))
    service = kosha(request)
    try:
        if token is None:
            raise Unauthenticated("not signed in")
        current = await service.sessions.status(token)
        if not current.active:
            raise Unauthenticated("the session has ended")
    except NotFound:
        return _error(Unauthenticated("the session has ended"))
    except KoshaError as exc:
        return _error(exc)
    return _secured(JSONResponse(_session_answer(service.auth.csrf_token(token), current.expires_at),
                                 headers={"Cache-Control": "no-store"}))


routes = [
    Route("/", to_console, methods=["GET"]),
    Route("/console", page, methods=["GET"]),
    Route("/console/", page, methods=["GET"]),
    Route("/console/static/{name}", static, methods=["GET"]),
    Route("/console/api/login", login, methods=["POST"]),
    Route("/console/api/logout", logout, methods=["POST"]),
    Route("/console/api/session", session, methods=["GET"]),
]
