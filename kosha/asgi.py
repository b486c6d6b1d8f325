"""ASGI glue shared by the KOS and S3 applications."""

from __future__ import annotations

from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class CloseIfBodyUnread:
    """Close the connection after a response sent before the request body was read.

    An early error (401, 403, a bad header) answers without reading the body. Clients that sent
    `Expect: 100-continue` then never send it, and the server would read the next request's bytes
    as this one's body; others send it, and it must be drained. Closing the connection is the one
    answer right in both cases.

    `observe.Observed` wrapping one directly does its job in its own wrappers (one pair per
    request, not two); this class stays for any other use and for that recognition.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def tracked_receive() -> Message:
            nonlocal body_done
            message: Message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body_done:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, guarded_send)


def has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a non-zero Content-Length or a Transfer-Encoding):
    without one, HTTP/1.1 gives `receive` nothing to read, so there is nothing to track."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False
