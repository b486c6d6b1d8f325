"""What every KOS handler needs: the running service, the caller, and a validated JSON body."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..errors import Invalid, Unprocessable
from ..services.container import Kosha
from ..services.principal import Principal
from ..services.request_facts import KOS, RequestFacts, set_current as set_facts

MAX_JSON_DEPTH = 32


def kosha(request: Request) -> Kosha:
    return request.scope["kosha"]  # type: ignore[no-any-return]


def header_map(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict, built once per request: lower-case names, and of a
    repeated header the first, as Starlette's `Headers.get` answers. Every authenticated request
    asks it for several names, most of them absent, and `Headers` scans its list for each."""
    found: dict[str, str] | None = request.scope.get("kosha.headers")
    if found is None:
        found = request.scope["kosha.headers"] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(request.scope["headers"])}
    return found


async def principal(request: Request) -> Principal:
    """The authenticated caller (401 if none); see services.auth for what is accepted."""
    scope = request.scope
    address = scope.get("client")
    client = address[0] if address else ""
    sent = header_map(request)
    who = await kosha(request).auth.authenticate_kos(sent, client=client)
    # The scheme and query straight from the scope: Starlette's `request.url` builds a whole URL.
    set_facts(RequestFacts(KOS, client, scope.get("scheme") == "https", sent,
                           request.query_params if scope.get("query_string") else {}))
    scope["kosha.principal"] = who   # for the access log (observe.Observed)
    return who


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 for malformed JSON, 422 for a non-object, bounded in size."""
    limit = kosha(request).settings.max_json_body
    length = header_map(request).get("content-length")
    if length is not None and length.isascii() and length.isdigit() and int(length) > limit:
        raise Invalid(f"request body is larger than {limit} bytes", status=413)
    raw = await whole_body(request, limit)
    if not raw.strip():
        if required:
            raise Invalid("a JSON request body is required")
        return {}
    try:
        value = json.loads(raw)
    except RecursionError:
        raise Invalid(f"request body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise Invalid("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Unprocessable("request body must be a JSON object")
    check_json(value)
    return value


async def whole_body(request: Request, limit: int | None = None) -> bytes:
    """The request's body, read to its end (413 past `limit` bytes): what `request.stream()`
    yields, without an async generator (the loop registers each one it runs: a WeakSet entry
    and a finalizer, a cost per request that showed in the 4 KiB profiles)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if body:
                chunks.append(body)
                size += len(body)
                if limit is not None and size > limit:
                    raise Invalid(f"request body is larger than {limit} bytes", status=413)
            if not message.get("more_body", False):
                break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_json(body: dict[str, Any]) -> None:
    """Refuse what JSON can carry but the rest of the server cannot: nesting deeper than
    MAX_JSON_DEPTH (400), and strings holding a lone surrogate (`"\\ud800"`, legal JSON but not
    text: 422 naming the top-level field). Iterative, so no input can exhaust the stack."""
    for name, top in body.items():
        stack: list[tuple[Any, int]] = [(name, 1), (top, 1)]
        while stack:
            value, depth = stack.pop()
            if isinstance(value, str):
                if not value.isascii():
                    _encodable(value, name)
            elif isinstance(value, dict):
                if depth >= MAX_JSON_DEPTH:
                    raise Invalid(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
                for k, v in value.items():
                    stack.append((k, depth))
                    stack.append((v, depth + 1))
            elif isinstance(value, list):
                if depth >= MAX_JSON_DEPTH:
                    raise Invalid(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
                stack.extend((v, depth + 1) for v in value)


def _encodable(value: str, name: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise Unprocessable(f"'{_printable(name)}' is not valid Unicode text "
                            "(it holds a lone surrogate)") from None


def _printable(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")


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
    if isinstance(value, str) and len(_utf8(value, name)) > max_length:
        raise Unprocessable(f"'{name}' is longer than {max_length} bytes")
    return value


def only_fields(body: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    """Refuse fields an update cannot change, rather than ignore them silently (400)."""
    extra = sorted(set(body) - set(allowed))
    if extra:
        names = ", ".join(repr(name) for name in extra)
        raise Invalid(f"{names} cannot be changed by {what}; it changes only "
                      + ", ".join(allowed))


def _utf8(value: str, name: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError:
        _encodable(value, name)
        raise


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


class _Json(JSONResponse):
    """JSONResponse with one encoder for the process: the same bytes (the same settings as
    `JSONResponse.render`) without building an encoder per answer."""

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode("utf-8")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None,
                            separators=(",", ":"))


def ok(body: Any, status: int = 200) -> Response:
    return _Json(body, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)
