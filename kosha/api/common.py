"""What every KOS handler needs: the running service, the caller, and a validated JSON body."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import Invalid, Unprocessable
from ..services.container import Kosha
from ..services.principal import Principal


def kosha(request: Request) -> Kosha:
    return request.scope["kosha"]  # type: ignore[no-any-return]


async def principal(request: Request) -> Principal:
    """The authenticated caller (401 if none); see services.auth for what is accepted."""
    return await kosha(request).auth.authenticate_kos(
        request.headers, client=request.client.host if request.client else "")


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 for malformed JSON, 422 for a non-object, bounded in size."""
    limit = kosha(request).settings.max_json_body
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Invalid(f"request body is larger than {limit} bytes", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Invalid(f"request body is larger than {limit} bytes", status=413)
    if not raw.strip():
        if required:
            raise Invalid("a JSON request body is required")
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Unprocessable("request body must be a JSON object")
    return value


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False,
          default: Any = None, max_length: int = 1024) -> Any:
    """One field of a JSON body, type-checked (422 on a wrong type, 400 when missing)."""
    if name not in body or body[name] is None:
        if required:
            raise Invalid(f"'{name}' is required")
        return default
    value = body[name]
    if isinstance(value, bool) and kind in (int, (int,)):
        raise Unprocessable(f"'{name}' must be an integer")
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise Unprocessable(f"'{name}' must be of type {expected}")
    if isinstance(value, str) and len(value.encode()) > max_length:
        raise Unprocessable(f"'{name}' is longer than {max_length} bytes")
    return value


_INTEGER = re.compile(r"-?[0-9]{1,18}")


def query_int(request: Request, name: str, default: int | None = None, *, lo: int = 0,
              hi: int | None = None) -> int | None:
    """An integer query parameter within [lo, hi] (400 otherwise); `default` when absent/empty."""
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not _INTEGER.fullmatch(raw):   # int() would also take '٣', '1_0', ' +5'
        raise Invalid(f"query parameter '{name}' must be an integer")
    value = int(raw)
    if value < lo or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise Invalid(f"query parameter '{name}' must be {bounds}")
    return value


def ok(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)
