"""A minimal HTTP/1.1 client for the webhook target: POSTs on one kept-alive connection,
pipelined when the server has shown it keeps connections alive.

Measured on this project's machine, httpx.AsyncClient spends ~630 us of CPU per POST, aiohttp
~130 us and this ~30 us; the webhook POSTs once per event, so that cost is the delivery
process's (bench/notifications.py). It does only what a webhook needs: a body read by
Content-Length or chunked encoding (or to the connection's end), `Connection: close` honoured,
TLS through the ssl module with the system's certificate authorities. Any error closes the
connection; the next request opens a new one.

Pipelining (RFC 9112 9.3.2): `exchange` writes several requests at once and reads their answers
in order. Under load that is one socket write and a few reads per batch of events instead of a
write, a read and two loop wake-ups per event, which was most of the delivery process's CPU.
It is used only on a connection whose server has answered once and kept it open (a server that
answers HTTP/1.0 or closes after each answer is never sent a pipeline), and given up for good
for PIPELINE_PAUSE seconds when a server answered part of a pipeline and then stopped (closed
unannounced, or fell silent until the timeout: servers that read only the first request of what
arrives). Whatever was not answered is
the caller's to send again: at least once, as after any lost connection.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
PIPELINE_PAUSE = 300.0   # seconds without pipelining after a server failed one
_ERRORS = (OSError, EOFError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
           asyncio.TimeoutError)


class Http1Error(Exception):
    """The requests could not be made or their answers could not be read; `answered` are the
    statuses of those answered before, in order (the rest may or may not have been handled)."""

    def __init__(self, message: str, answered: list[int] | None = None) -> None:
        super().__init__(message)
        self.answered = answered or []


class Http1Connection:
    def __init__(self, url: str, timeout: float, fields: bytes = b"") -> None:
        """`fields`: header lines (each ending in CRLF) every request carries."""
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc_host = f"[{self.host}]" if ":" in self.host else self.host
        default = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        self.host_header = netloc_host if default else f"{netloc_host}:{self.port}"
        self.timeout = timeout
        self.head = (f"POST {self.target} HTTP/1.1\r\nHost: {self.host_header}\r\n"
                     "User-Agent: kosha-notify\r\n").encode("latin-1") + fields
        self._no_pipeline_until = 0.0   # monotonic time: a server failed a pipeline
        self._kept = False         # this connection's server answered and kept it open
        self._ssl = ssl.create_default_context() if self.tls else None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def request(self, body: bytes, fields: bytes = b"") -> bytes:
        """A POST of `body` with the header lines `fields` (each ending in CRLF)."""
        return b"%sContent-Length: %d\r\n%s\r\n%s" % (self.head, len(body), fields, body)

    def depth(self, most: int) -> int:
        """How many requests the next `exchange` may carry (at most `most`): one on a fresh
        connection, or once pipelining was given up."""
        if not self.kept or most <= 1:
            return 1
        return most if self.pipelining else 1

    @property
    def kept(self) -> bool:
        """Whether a connection that answered before is open (it may have died unnoticed)."""
        return self._kept and self._writer is not None

    @property
    def pipelining(self) -> bool:
        """Whether a kept connection would be sent pipelines now."""
        return self._no_pipeline_until <= time.monotonic()

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` alone; answer the status code (the answer's body is read and dropped)."""
        fields = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        try:
            return (await self.exchange([self.request(body, fields)]))[0]
        except Http1Error as exc:
            raise Http1Error(str(exc)) from None

    async def exchange(self, requests: list[bytes]) -> list[int]:
        """Send `requests` (whole requests, `request`) at once and read their answers in order;
        the statuses of those answered. Each answer has at least half of `timeout` (the first
        the whole of it) after the one before. Reading stops after a non-2xx answer or one that
        closes the connection: fewer statuses than requests means the rest were not answered
        (the connection is then closed). Http1Error when none could be answered, or the
        connection failed part way (its `answered`)."""
        answered: list[int] = []
        try:
            async with asyncio.timeout(self.timeout) as limit:   # no task, as wait_for makes
                reader, writer = await self._open()
                # No drain: the answers are read while the transport sends, so a server that
                # stops reading until its own answers are read cannot stall both sides.
                writer.write(requests[0] if len(requests) == 1 else b"".join(requests))
                loop = asyncio.get_running_loop()
                for _ in requests:
                    status, keep = await self._answer(reader)
                    answered.append(status)
                    if not keep:
                        self.close()
                        break
                    self._kept = True
                    if not 200 <= status < 300:
                        break
                    now = loop.time()
                    if (limit.when() or now) - now < self.timeout / 2:   # not per answer: a
                        limit.reschedule(now + self.timeout)             # new timer each time
        except asyncio.CancelledError:
            self.close()
            raise
        except (*_ERRORS, Http1Error) as exc:
            self.close()
            if len(requests) > 1 and answered:   # it answered part of a pipeline, then stopped
                self._no_pipeline_until = time.monotonic() + PIPELINE_PAUSE
            raise Http1Error(type(exc).__name__, answered) from None
        if len(answered) < len(requests):
            self.close()
        return answered

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if (self._writer is None or self._reader is None or self._writer.is_closing()
                or self._reader.at_eof()):   # the server closed it since: do not write into it
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, ssl=self._ssl,
                server_hostname=self.host if self.tls else None, limit=MAX_HEAD)
            self._kept = False
        return self._reader, self._writer

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bool]:
        """Read one answer: its status, and whether the connection carries another request."""
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise Http1Error("not an HTTP/1 answer")
        status = int(rest[:3])
        fields: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        keep = await self._drain_body(reader, status, fields)
        return status, (keep and fields.get("connection", "").lower() != "close"
                        and version != "HTTP/1.0")

    @staticmethod
    async def _drain_body(reader: asyncio.StreamReader, status: int, fields: dict[str, str]) -> bool:
        """Read the answer's body; whether the connection can carry another request."""
        if status in (204, 304) or 100 <= status < 200:
            return True
        if "chunked" in fields.get("transfer-encoding", "").lower():
            total = 0
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                total += size
                if total > MAX_BODY:
                    raise Http1Error("answer too long")
                await reader.readexactly(size + 2)
                if size == 0:
                    return True
        length = fields.get("content-length")
        if length is not None:
            n = int(length)
            if n > MAX_BODY:
                raise Http1Error("answer too long")
            await reader.readexactly(n)
            return True
        await reader.read(MAX_BODY)   # to the connection's end
        return False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._kept = False
