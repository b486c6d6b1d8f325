"""A webhook receiver for bench/notifications.py: answers every POST 204 and counts the
event records they carried.

    python bench/notify_receiver.py PORT     # GET /count answers {"events": N}

It shares the two cores with the server and the load generator, so what it spends is taken from
the figure being measured: it is a bare asyncio protocol (on uvloop when installed) that reads
Content-Length bodies on kept-alive connections, ~4x less CPU per POST than a raw ASGI app under
uvicorn measured here. It serves only this benchmark (no chunked bodies, no validation).
"""
from __future__ import annotations

import asyncio
import json
import sys

COUNT = [0]
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class Hook(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        if head.startswith(b"POST "):
            COUNT[0] += body.count(b'"eventVersion"')   # records, however many per POST
            self.transport.write(NO_CONTENT)
            return
        text = json.dumps({"events": COUNT[0]}).encode()
        self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(text), text))


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    line_end = head.find(b"\r\n", at + 2)
    return int(head[at + 17:line_end if line_end > 0 else len(head)])


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    run(serve(int(sys.argv[1])))
