"""A response's head checked for forbidden bytes once, not with two regular expressions per header.

uvicorn's `RequestResponseCycle.send` searches each response header's name and value with its
own pattern before writing it: sixteen searches for a 4 KiB S3 GET's eight headers. The same
guarantee, for less (a GET's head 14.4 -> 11.4 us in timeit, docs/benchmarks.md):

- a name is searched with uvicorn's pattern the first time it is seen, then remembered (a
  bounded set: names are few, and a user-chosen `x-amz-meta-` name past the bound is searched
  every time);
- the values are checked in the head as written: a byte that is not allowed in a value (a
  control character other than TAB) shows either as a CR or LF more than the head's own line
  ends, or as another control character, which no name (checked), status line or separator has.

So a CR or LF that would split the response (a stored `x-amz-meta-` value, a presigned
`response-content-disposition`) is found however the response was made. Unlike uvicorn, the
check comes before the response counts as started, so such a response becomes uvicorn's plain
500 instead of a connection closed without an answer. Bodies, and heads while uvicorn's access
log is on, are uvicorn's own code.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (HEADER_RE, HEADER_VALUE_RE, STATUS_LINE,
                                                   RequestResponseCycle)

MAX_NAMES = 4096
_NAMES: set[bytes] = set()     # header names already searched with HEADER_RE and found clean
# what HEADER_VALUE_RE forbids, less CR and LF (counted instead: the head holds its own)
_CONTROLS = bytes(b for b in range(256) if HEADER_VALUE_RE.match(bytes([b])) and b not in b"\r\n")


class CheckedHeadCycle(RequestResponseCycle):
    """uvicorn's cycle, writing the head after one check of the whole head for forbidden bytes."""

    async def send(self, message: Any) -> None:
        if self.response_started or self.access_log or message["type"] != "http.response.start":
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        status = message["status"]
        headers = [*self.default_headers, *message.get("headers", ())]
        content = [STATUS_LINE[status]]
        lines = len(headers) + 2       # the line ends the head should hold: status, headers, blank
        chunked = self.chunked_encoding
        length = self.expected_content_length
        keep_alive = self.keep_alive
        close = False
        for name, value in headers:
            if name not in _NAMES:
                if HEADER_RE.search(name):
                    raise RuntimeError("Invalid HTTP header name.")
                if len(_NAMES) < MAX_NAMES:
                    _NAMES.add(name)
            name = name.lower()
            if name == b"content-length":
                if chunked is None:
                    length = int(value)
                    chunked = False
            elif name == b"transfer-encoding":
                if value.lower() == b"chunked":
                    length = 0
                    chunked = True
            elif name == b"connection" and b"close" in [t.strip() for t in
                                                        value.lower().split(b",")]:
                keep_alive = False
                close = True
            content += (name, b": ", value, b"\r\n")
        if not keep_alive and not close:
            content.append(b"connection: close\r\n")
            lines += 1
        if chunked is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
            lines += 1
        content.append(b"\r\n")
        head = b"".join(content)
        if head.count(b"\n") != lines or head.count(b"\r") != lines \
                or len(head.translate(None, _CONTROLS)) != len(head):
            raise RuntimeError("Invalid HTTP header value.")
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding = chunked
        self.expected_content_length = length
        self.keep_alive = keep_alive
        self.transport.write(head)
