"""The webhook's HTTP/1.1 client against answers real servers give: lengths, chunks, closes,
errors and redirects (a raw asyncio server per test, on a loopback port)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.http1 import Http1Connection, Http1Error
from kosha.notify.targets.webhook import WebhookFailed, make

Answer = Callable[[int], bytes]   # the n-th request (from 0) -> raw answer bytes


async def _serve(answer: Answer, close_after: bool = False) -> tuple[asyncio.AbstractServer, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                seen.append(await reader.readexactly(length))
                writer.write(answer(len(seen) - 1))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


def _url(server: asyncio.AbstractServer) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
])
def test_bodies_are_read_and_the_connection_kept(raw: bytes) -> None:
    async def go() -> None:
        server, seen = await _serve(lambda _n: raw)
        conn = Http1Connection(_url(server), 5)
        assert [await conn.post(b"one", {}), await conn.post(b"two", {})][0] in (200, 204)
        assert seen == [b"one", b"two"]
        conn.close()
        server.close()
    run(go())


def test_a_connection_closed_by_the_server_is_opened_again() -> None:
    async def go() -> None:
        server, seen = await _serve(lambda _n: b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                                               b"Content-Length: 0\r\n\r\n", close_after=True)
        conn = Http1Connection(_url(server), 5)
        assert await conn.post(b"a", {}) == 200
        assert await conn.post(b"b", {}) == 200
        assert seen == [b"a", b"b"]
        server.close()
    run(go())


def test_a_body_without_length_is_read_to_the_end() -> None:
    async def go() -> None:
        server, _seen = await _serve(lambda _n: b"HTTP/1.0 200 OK\r\n\r\nall of it", close_after=True)
        conn = Http1Connection(_url(server), 5)
        assert await conn.post(b"a", {}) == 200
        assert await conn.post(b"b", {}) == 200
        server.close()
    run(go())


def test_nobody_listening_is_an_error() -> None:
    async def go() -> None:
        server, _seen = await _serve(lambda _n: b"")
        url = _url(server)
        server.close()
        await server.wait_closed()
        with pytest.raises(Http1Error):
            await Http1Connection(url, 2).post(b"a", {})
    run(go())


def test_a_silent_server_times_out() -> None:
    async def go() -> None:
        server, _seen = await _serve(lambda _n: b"")
        with pytest.raises(Http1Error):
            await Http1Connection(_url(server), 0.3).post(b"a", {})
        server.close()
    run(go())


@pytest.mark.parametrize("status", [301, 404, 500, 503])
def test_webhook_non_2xx_is_a_failure_naming_what_was_delivered(status: int) -> None:
    async def go() -> None:
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        bad = f"HTTP/1.1 {status} X\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n".encode()
        server, seen = await _serve(lambda n: ok if n < 2 else bad)
        target = make("t", _url(server) + "?secret=abc&pipeline=1")
        batch = [Delivery(i, "b", "k", "ObjectCreated:Put", b'{"Records":[{"n":%d}]}' % i)
                 for i in range(4)]
        with pytest.raises(WebhookFailed) as exc:
            await target.send(batch)
        assert exc.value.delivered == 2
        assert str(status) in str(exc.value) and "abc" not in str(exc.value)
        assert len(seen) == 3
        await target.close()
        server.close()
    run(go())


def test_webhook_batch_sends_several_records_in_one_post() -> None:
    async def go() -> None:
        server, seen = await _serve(lambda _n: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        target = make("t", _url(server) + "?batch=3")
        batch = [Delivery(i, "b", "k", "ObjectCreated:Put", b'{"Records":[{"n":%d}]}' % i)
                 for i in range(4)]
        await target.send(batch)
        assert seen == [b'{"Records":[{"n":0},{"n":1},{"n":2}]}', b'{"Records":[{"n":3}]}']
        await target.close()
        server.close()
    run(go())
