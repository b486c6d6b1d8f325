"""A response's head checked with two regular-expression searches, not two per header.

uvicorn's `RequestResponseCycle.send` searches each response header's name and value with its
own pattern before writing it: twenty searches for a 4 KiB S3 GET's ten headers (~5 us of the
request). Both patterns are classes of single bytes, so one search over all the names joined and
one over all the values joined find every forbidden byte the per-header searches find: a CR or LF
that would split the response (a stored `x-amz-meta-` value, a presigned
`response-content-disposition`), or any other control character. Unlike uvicorn, the check comes
before the response counts as started, so such a response becomes uvicorn's plain 500 instead of
a connection closed without an answer. Bodies, and heads when uvicorn's access log is on, are
uvicorn's own code.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (HEADER_RE, HEADER_VALUE_RE, STATUS_LINE,
                                                   RequestResponseCycle)


class CheckedHeadCycle(RequestResponseCycle):
    """uvicorn's cycle, writing the head after one check of all names and one of all values."""

    async def send(self, message: Any) -> None:
        if self.response_started or self.access_log or message["type"] != "http.response.start":
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        headers = message.get("headers", ())
        if self.default_headers:
            headers = [*self.default_headers, *headers]
        if HEADER_RE.search(b"".join([name for name, _ in headers])):
            raise RuntimeError("Invalid HTTP header name.")
        if HEADER_VALUE_RE.search(b"".join([value for _, value in headers])):
            raise RuntimeError("Invalid HTTP header value.")
        self.response_started = True
        self.waiting_for_100_continue = False
        status = message["status"]
        content = [STATUS_LINE[status]]
        close = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-length":
                if self.chunked_encoding is None:
                    self.expected_content_length = int(value)
                    self.chunked_encoding = False
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    self.expected_content_length = 0
                    self.chunked_encoding = True
            elif name == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]:
                self.keep_alive = False
                close = True
            content += (name, b": ", value, b"\r\n")
        if not self.keep_alive and not close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" \
                and status not in (204, 304):
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.transport.write(b"".join(content))
