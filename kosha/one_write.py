"""One write per small response: the status line and headers wait for the first body bytes.

uvicorn writes a response's head at `http.response.start` and each body piece at
`http.response.body`: two `send()` system calls, and two TCP segments for the client to read,
for every small answer (a 4 KiB GET, a PUT's empty 200). The protocol (kosha.limits) hands each
request's cycle a `HeldHead` in place of the transport: the head is kept until the next write,
which sends both at once, or until the response ends without one (HEAD: the cycle's end of
response hook writes it) or the connection closes. `100 Continue` and everything after the head pass straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JOIN_LIMIT = 64 * 1024   # a bigger first piece is written after the head, not copied behind it
_CONTINUE = b"HTTP/1.1 100 "


class HeldHead:
    """The transport of one request/response cycle, holding back the response head."""

    __slots__ = ("transport", "head", "seen", "on_response")

    def __init__(self, transport: Any, on_response: Callable[[], None]) -> None:
        self.transport = transport
        self.head: bytes | None = None
        self.seen = False          # the head was written (or is held)
        self.on_response = on_response

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if len(data) <= JOIN_LIMIT:
                self.transport.write(head + data)
                return
            self.transport.write(head)
        elif not self.seen and not data.startswith(_CONTINUE):
            self.seen = True
            self.head = data
            return
        self.transport.write(data)

    def flush(self) -> None:
        """Write a held head (a response that ended without body bytes)."""
        head = self.head
        if head is not None:
            self.head = None
            self.transport.write(head)

    def response_ended(self) -> None:
        """The cycle's `on_response`: the head goes out before the next request is started."""
        self.flush()
        self.on_response()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:   # is_closing, get_extra_info, ...
        return getattr(self.transport, name)
