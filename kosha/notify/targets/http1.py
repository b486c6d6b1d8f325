"""A minimal HTTP/1.1 client for the webhook target: POST on one kept-alive connection.

Measured on this project's machine, httpx.AsyncClient spends ~630 us of CPU per POST, aiohttp
~130 us and this ~30 us; the webhook POSTs once per event in the same process as the server's
request handling, so that cost is taken from the writes (bench/notifications.py). It does only
what a webhook needs: one request at a time, a body read by Content-Length or chunked encoding
(or to the connection's end), `Connection: close` honoured, TLS through the ssl module with the
system's certificate authorities. Any error closes the connection; the next request opens a
new one.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class Http1Error(Exception):
    """The request could not be made or its answer could not be read."""


class Http1Connection:
    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc_host = f"[{self.host}]" if ":" in self.host else self.host
        default = (self.tls and self.port == 443) or (not self.tls and self.port == 80)
        self.host_header = netloc_host if default else f"{netloc_host}:{self.port}"
        self.timeout = timeout
        self._head = (f"POST {self.target} HTTP/1.1\r\nHost: {self.host_header}\r\n"
                      "User-Agent: kosha-notify\r\n")
        self._ssl = ssl.create_default_context() if self.tls else None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POST `body`; answer the status code (the answer's body is read and dropped)."""
        try:
            async with asyncio.timeout(self.timeout):   # no task per POST, as wait_for makes
                return await self._post(body, headers)
        except asyncio.CancelledError:
            self.close()
            raise
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, asyncio.TimeoutError, Http1Error) as exc:
            self.close()
            raise Http1Error(type(exc).__name__) from None

    async def _post(self, body: bytes, headers: dict[str, str]) -> int:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, ssl=self._ssl,
                server_hostname=self.host if self.tls else None, limit=MAX_HEAD)
        reader, writer = self._reader, self._writer
        assert reader is not None
        request = "".join([self._head, f"Content-Length: {len(body)}\r\n",
                           *(f"{k}: {v}\r\n" for k, v in headers.items()), "\r\n"])
        writer.write(request.encode("latin-1") + body)
        await writer.drain()
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
        if not keep or fields.get("connection", "").lower() == "close" or version == "HTTP/1.0":
            self.close()
        return status

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
