"""Per-request observation on both ports: a request id, metrics, and one access-log line.

The KOS port makes the id (`x-request-id`, `requestId` in error bodies); the S3 port already
makes one per request (`x-amz-request-id`, `<RequestId>`), which the log line reuses. The log
line (logger `kosha.access`, level INFO) is built only for the requests it is written for
(`--access-log off|on|<rate>`); the query string loses the values of credentials first.
See docs/hardening.md, section L.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import random
import time
from typing import Any

from . import metrics, request_context
from .asgi import CloseIfBodyUnread, has_body

log = logging.getLogger("kosha.access")

SECRET_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "awsaccesskeyid",
    "x-amz-s3session-token", "otp", "token", "access_token", "refresh_token", "secretkey",
})
CLIENT_GONE = 499   # status recorded when the client left before any answer


def sample_rate(setting: str) -> float:
    """`off` 0, `on` 1, or a rate in [0, 1]."""
    text = setting.strip().lower()
    if text in ("off", "false", "no", "0"):
        return 0.0
    if text in ("on", "true", "yes", "1"):
        return 1.0
    rate = float(text)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"--access-log must be off, on or a rate between 0 and 1, not {setting}")
    return rate


def redact_query(query: bytes) -> str:
    """The query string with the values of credential parameters replaced by `REDACTED`."""
    parts = []
    for part in query.decode("latin-1").split("&"):
        name, eq, _value = part.partition("=")
        if eq and name.lower() in SECRET_PARAMS:
            part = f"{name}=REDACTED"
        parts.append(part)
    return "&".join(parts)


class Observed:
    """ASGI wrapper: id, metrics and log line of every HTTP request of one port.

    Wrapping an `asgi.CloseIfBodyUnread` directly, it does that wrapper's job itself (the
    `connection: close` after an answer sent before the body was read): one pair of `receive`
    and `send` wrappers and one copy of the response head per request instead of two. A
    request without a body gets the server's own `receive` (nothing to count or track).
    """

    def __init__(self, app: Any, port: str, access_log: str) -> None:
        self.guard_body = isinstance(app, CloseIfBodyUnread)
        self.app = app.app if self.guard_body else app
        self.port = port
        self.makes_ids = port == "kos"
        self.sample = sample_rate(access_log)
        self.prefix = os.urandom(3).hex().upper()
        self.serial = itertools.count(1)
        self.cells: dict[tuple[str, int], list[float]] = {}
        self.bytes = metrics.STATS.port_bytes(port)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        id_header: tuple[bytes, bytes] | None = None
        if self.makes_ids:
            request_id = f"{self.prefix}{next(self.serial):010X}"
            scope["request_id"] = request_id
            client = scope.get("client")
            request_context.enter(client[0] if client else "", request_id)
            id_header = (b"x-request-id", request_id.encode())
        status = 0
        bytes_in = bytes_out = 0
        response_headers: Any = ()
        with_body = has_body(scope)
        body_done = not (with_body and self.guard_body)

        async def counted_receive() -> dict[str, Any]:
            nonlocal bytes_in, body_done
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                bytes_in += len(message.get("body", b""))
                if not message.get("more_body", False):
                    body_done = True
            else:
                body_done = True
            return message

        async def counted_send(message: dict[str, Any]) -> None:
            nonlocal status, bytes_out, response_headers
            kind = message["type"]
            if kind == "http.response.body":
                bytes_out += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                response_headers = message.get("headers", ())
                if not body_done or id_header is not None:
                    added = [*response_headers]
                    if not body_done:
                        added.append((b"connection", b"close"))
                    if id_header is not None:
                        added.append(id_header)
                    message = {**message, "headers": added}
                    response_headers = added
            await send(message)

        try:
            await self.app(scope, counted_receive if with_body else receive, counted_send)
        finally:
            elapsed = time.perf_counter() - started
            operation = scope.get("kosha.operation") or _endpoint_name(scope)
            key = (operation, status or CLIENT_GONE)
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = metrics.STATS.cell(self.port, operation, key[1])
            cell[0] += 1
            cell[1] += elapsed
            cell[2 + bisect.bisect_left(metrics.LATENCY_BOUNDS, elapsed)] += 1
            self.bytes[0] += bytes_in
            self.bytes[1] += bytes_out
            if self.sample and log.isEnabledFor(logging.INFO) and (
                    self.sample >= 1.0 or random.random() < self.sample):
                self._log(scope, request_id or _header(response_headers, b"x-amz-request-id"),
                          operation, key[1], bytes_in, bytes_out, elapsed)

    def _log(self, scope: dict[str, Any], request_id: str, operation: str, status: int,
             bytes_in: int, bytes_out: int, elapsed: float) -> None:
        path = scope.get("raw_path") or scope["path"].encode()
        target = path.decode("latin-1")
        if scope.get("query_string"):
            target += "?" + redact_query(scope["query_string"])
        who = scope.get("kosha.principal")
        principal = "-" if who is None or who.anonymous else (who.access_key or who.kcid)
        client = scope.get("client")
        log.info("request id=%s port=%s method=%s path=%s op=%s status=%d in=%d out=%d "
                 "ms=%.1f principal=%s client=%s", request_id or "-", self.port, scope["method"],
                 _quoted(target), operation, status, bytes_in, bytes_out, elapsed * 1000,
                 principal, client[0] if client else "-")


def refused_logger(access_log: str) -> Any:
    """The callback `limits.Limits` calls when it refuses a request or connection itself."""
    rate = sample_rate(access_log)

    def refused(port: str, status: int, client: str, reason: str) -> None:
        metrics.REFUSED.labels(port, str(status)).inc()
        if rate and log.isEnabledFor(logging.INFO):
            log.info("refused port=%s status=%d client=%s reason=%s", port, status, client or "-",
                     _quoted(reason))
    return refused


def _endpoint_name(scope: dict[str, Any]) -> str:
    endpoint = scope.get("endpoint")
    return getattr(endpoint, "__name__", "none") if endpoint is not None else "none"


def _header(headers: Any, name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return ""


def _quoted(text: str) -> str:
    if " " in text or '"' in text or not text.isprintable():
        return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    return text
