"""Connection and request limits, enforced in the HTTP/1.1 protocol before any application code.

httptools buffers a header line until it ends and has no size limit of its own, and uvicorn times
out only idle keep-alive connections; so this subclass of uvicorn's `HttpToolsProtocol` counts the
bytes of each request head as they arrive (431/414 once over), times the head and the body (a
silent connection, a slowloris and a body that stops short or trickles are closed, 408 when a
request was begun), and caps connections and in-flight uploads, in total and per client address.
The refusals are plain text: they happen before the request is known to be KOS or S3.
See docs/hardening.md, section L.
"""

from __future__ import annotations

import asyncio
import http
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import Settings
from .one_write import HeldHead
from .received import Pieces
from .response_head import CheckedHeadCycle

LINGER = 1.0   # seconds a refused connection is drained before it is closed


@dataclass
class Limits:
    """The limits of both ports, and the counts they share (one process, one loop)."""

    max_request_line: int
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    min_body_rate: int
    max_connections: int
    max_connections_per_client: int
    max_uploads_per_client: int
    connections: Counter[str] = field(default_factory=Counter)
    uploads: Counter[str] = field(default_factory=Counter)
    total_connections: int = 0
    on_refused: Callable[[str, int, str, str], None] | None = None   # (port, status, client, reason)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(max_request_line=settings.max_request_line,
                   max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers,
                   header_timeout=settings.header_timeout, body_timeout=settings.body_timeout,
                   min_body_rate=settings.min_body_rate, max_connections=settings.max_connections,
                   max_connections_per_client=settings.max_connections_per_client,
                   max_uploads_per_client=settings.max_uploads_per_client)

    @property
    def uploads_in_flight(self) -> int:
        return sum(self.uploads.values())


class Refused(Exception):
    """Raised from a parser callback to answer `status` and close the connection."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def protocol_class(limits: Limits, port: str) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol under `limits`, for the port named `port` (kos, s3)."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,),
                {"limits": limits, "port_name": port})


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: Limits
    port_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address = ""
        self.counted = False
        self.in_head = True          # between requests or reading a request line and headers
        self.head_bytes = 0
        self.header_count = 0
        self.has_body = False
        self.uploading = False       # counted in limits.uploads
        self.body_bytes = 0          # since the last rate check
        self.timer: asyncio.TimerHandle | None = None        # body rate checks, lingering
        self.head_since: float | None = None    # when the head being awaited began
        self.head_timer: asyncio.TimerHandle | None = None   # lazy: re-armed only when it fires
        self.lingering = False       # refused: what still arrives is dropped until the close
        self.idle_since: float | None = None    # when the last answer ended, if nothing came since

    # -- connections -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        self.address = self.client[0] if self.client else ""
        limits.total_connections += 1
        limits.connections[self.address] += 1
        self.counted = True
        if limits.total_connections > limits.max_connections:
            self.refuse(Refused(503, "too many connections", retry_after=1))
        elif limits.connections[self.address] > limits.max_connections_per_client:
            self.refuse(Refused(503, "too many connections from this address", retry_after=1))
        else:
            self.await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        self.end_upload()
        if self.counted:
            self.counted = False
            self.limits.total_connections -= 1
            left = self.limits.connections[self.address] - 1
            if left:
                self.limits.connections[self.address] = left
            else:
                del self.limits.connections[self.address]
        super().connection_lost(exc)

    # -- bytes in --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return
        self._unset_keepalive_if_required()
        if not self.in_head:
            self.body_bytes += len(data)
            self.feed(data)
            return
        if self.head_since is None:
            self.await_head()
        room = self.limits.max_request_line + self.limits.max_header_bytes - self.head_bytes
        if len(data) <= room:
            self.head_bytes += len(data)
            self.feed(data)
        else:
            self.head_bytes += room
            self.feed(data[:room])
            if self.lingering or self.transport.is_closing():
                return
            if self.in_head:
                self.refuse(Refused(431, "request header fields too large"))
                return
            self.data_received(data[room:])
            return
        if not self.in_head and self.timer is None and not self.lingering:
            self.body_bytes = 0
            self.arm(self.limits.body_timeout, self.check_body_rate)

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, Refused):
                self.refuse(refused)
            else:
                self.refuse(Refused(400, "Invalid HTTP request received."))

    # -- parser callbacks ------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.max_request_line:
            raise Refused(414, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.limits.max_headers:
            raise Refused(431, "too many header fields")
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"content-length":
            self.has_body = value not in (b"0", b"")
        elif name == b"transfer-encoding":
            self.has_body = True
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle.body) is bytearray and not cycle.body:  # new, or just handed over
            cycle.body = Pieces()
        super().on_body(body)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_since = None
        if self.has_body:
            if self.limits.uploads[self.address] >= self.limits.max_uploads_per_client:
                raise Refused(503, "too many uploads in flight from this address", retry_after=1)
            self.limits.uploads[self.address] += 1
            self.uploading = True
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:   # the request's new cycle
            cycle.__class__ = CheckedHeadCycle    # its head checked at once (response_head)
            held = cycle.transport = HeldHead(self.transport, cycle.on_response)
            cycle.on_response = held.response_ended     # head and body in one write

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.end_upload()
        self.disarm()
        self.in_head = True
        self.head_bytes = 0
        self.header_count = 0
        self.has_body = False

    # -- keep-alive --------------------------------------------------------------------------

    def on_response_complete(self) -> None:
        """uvicorn's, with a lazy keep-alive timer: uvicorn armed one per answer and cancelled
        it at the next request's first bytes (0.9 us on uvloop, timeit); this notes when the
        connection went idle and keeps one timer, re-armed only when it fires."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.check_idle)

    def _unset_keepalive_if_required(self) -> None:
        self.idle_since = None     # bytes came: the timer, if armed, finds the connection busy

    def check_idle(self) -> None:
        """Close a connection idle for the keep-alive timeout; else look again when it would be."""
        self.timeout_keep_alive_task = None
        if self.transport.is_closing():
            return
        left = self.timeout_keep_alive
        if self.idle_since is not None:
            left += self.idle_since - self.loop.time()
            if left <= 0:
                self.transport.close()
                return
        self.timeout_keep_alive_task = self.loop.call_later(left, self.check_idle)

    # -- timers ----------------------------------------------------------------------------

    def arm(self, delay: float, callback: Callable[[], None]) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(delay, callback)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def await_head(self) -> None:
        """Start the head's clock: per request a timestamp, a timer only if none is pending."""
        self.head_since = self.loop.time()
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.header_timeout, self.check_head)

    def check_head(self) -> None:
        self.head_timer = None
        if self.head_since is None or self.lingering or self.transport.is_closing():
            return
        left = self.head_since + self.limits.header_timeout - self.loop.time()
        if left > 0:
            self.head_timer = self.loop.call_later(left, self.check_head)
            return
        if self.head_bytes:
            self.refuse(Refused(408, "the request head was not received in time"))
        elif not self.transport.is_closing():
            self.transport.close()   # nothing begun: close silently, as after a keep-alive idle

    def check_body_rate(self) -> None:
        """Every body_timeout while a body is read: enough bytes arrived, unless the wait was
        the server's (its buffer full, `100 Continue` not yet sent, an answer already begun)."""
        self.timer = None
        if self.in_head or self.transport.is_closing():
            return
        wanted = max(1, int(self.limits.min_body_rate * self.limits.body_timeout))
        cycle = self.cycle
        waiting_on_server = (self.flow.read_paused or cycle.waiting_for_100_continue
                             or cycle.response_started)
        if self.body_bytes < wanted and not waiting_on_server:
            self.refuse(Refused(408, "the request body was not received in time"))
            return
        self.body_bytes = 0
        self.arm(self.limits.body_timeout, self.check_body_rate)

    # -- refusing --------------------------------------------------------------------------

    def linger(self) -> None:
        """Close after the answer is sent and a moment has passed, reading and dropping meanwhile:
        closing with unread bytes would reset the connection, and the client lose the answer."""
        self.lingering = True
        self.in_head = False
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.timer = self.loop.call_later(LINGER, self.transport.close)

    def end_upload(self) -> None:
        if self.uploading:
            self.uploading = False
            left = self.limits.uploads[self.address] - 1
            if left:
                self.limits.uploads[self.address] = left
            else:
                del self.limits.uploads[self.address]

    def refuse(self, refused: Refused) -> None:
        """Answer `refused` unless a response is under way, then close the connection."""
        self.disarm()
        if self.lingering or self.transport.is_closing():
            return
        cycle = self.cycle
        current = cycle is not None and not cycle.response_complete
        if current and not self.in_head:
            cycle.disconnected = True       # the app's receive() ends; its send() is dropped
            cycle.message_event.set()
        if not current or (not self.in_head and not cycle.response_started):
            self.transport.write(_plain_response(refused))
        self.linger()
        if self.limits.on_refused is not None:
            self.limits.on_refused(self.port_name, refused.status, self.address, refused.reason)


def _plain_response(refused: Refused) -> bytes:
    body = (refused.reason + "\n").encode()
    phrase = http.HTTPStatus(refused.status).phrase
    retry = f"retry-after: {refused.retry_after}\r\n" if refused.retry_after else ""
    return (f"HTTP/1.1 {refused.status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n{retry}\r\n").encode() + body
