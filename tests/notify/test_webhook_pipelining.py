"""The webhook's pipelined POSTs (kosha/notify/targets/http1.py, `exchange`) against real
servers: a raw asyncio server that only answers once several requests are waiting (so it passes
only if they were written without waiting for answers), servers that close after each answer or
read only the first request of what arrives, uvicorn, aiohttp and http.server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.webhook import WebhookFailed, _run, make

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def _batch(n: int, keys: list[str] | None = None) -> list[Delivery]:
    return [Delivery(i + 1, "b", keys[i] if keys else f"k{i}", "ObjectCreated:Put",
                     b'{"Records":[{"n":%d}]}' % i) for i in range(n)]


def _numbers(bodies: list[bytes]) -> list[int]:
    return [json.loads(b)["Records"][0]["n"] for b in bodies]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    return await reader.readexactly(length)


def _url(server: asyncio.AbstractServer) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"


def test_requests_after_the_first_are_written_without_waiting_for_answers() -> None:
    """The server answers the first request, then waits for four before answering any: one
    at a time that would time out."""
    async def go() -> None:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await _read_request(reader))
            writer.write(OK)
            for _ in range(4):
                seen.append(await _read_request(reader))
            writer.write(OK * 4)
            await writer.drain()
            await reader.read()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server) + "?timeout=2")
        await target.send(_batch(5))
        assert _numbers(seen) == [0, 1, 2, 3, 4]
        await target.close()
        server.close()
    run(go())


def test_pipeline_option_1_sends_one_at_a_time() -> None:
    async def go() -> None:
        arrivals: list[int] = []

        class Count(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                n = data.count(b"POST ")
                arrivals.append(n)
                self.transport.write(OK * n)

        server = await asyncio.get_running_loop().create_server(Count, "127.0.0.1", 0)
        target = make("t", _url(server) + "?pipeline=1")
        await target.send(_batch(6))
        assert arrivals == [1] * 6
        await target.close()
        server.close()
    run(go())


def test_a_key_twice_ends_the_pipeline_before_its_second_event() -> None:
    chunks = [[d] for d in _batch(6, ["a", "b", "c", "a", "d", "e"])]
    assert _run(chunks, 0, 100) == 3
    assert _run(chunks, 3, 100) == 6
    assert _run(chunks, 0, 2) == 2
    batched = [_batch(4, ["a", "a", "b", "c"])[0:2], _batch(4, ["a", "a", "b", "a"])[2:4]]
    assert _run(batched, 0, 100) == 1    # the second POST holds a later event of `a`


@pytest.mark.parametrize("bad", [1, 3])
def test_a_non_2xx_in_a_pipeline_names_what_was_delivered(bad: int) -> None:
    async def go() -> None:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    seen.append(await _read_request(reader))
                    writer.write(b"HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n"
                                 if len(seen) - 1 == bad else OK)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server))
        with pytest.raises(WebhookFailed) as exc:
            await target.send(_batch(6))
        assert exc.value.delivered == bad
        assert "500" in str(exc.value)
        await target.close()
        server.close()
    run(go())


def test_a_server_closing_after_each_answer_gets_everything_one_at_a_time() -> None:
    async def go() -> None:
        seen: list[bytes] = []
        per_connection: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await _read_request(reader))
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
            per_connection.append(len(await reader.read(65536)))   # nothing else was sent
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server))
        await target.send(_batch(5))
        assert _numbers(seen) == [0, 1, 2, 3, 4]
        await target.close()
        server.close()
        await asyncio.sleep(0.05)
        assert set(per_connection) == {0}
    run(go())


def test_a_server_reading_only_the_first_request_of_a_pipeline_is_not_a_failure_loop() -> None:
    """It answers what it reads first and drops whatever arrived with it: the client times out
    on the second answer, gives pipelining up and sends the rest one at a time."""
    async def go() -> None:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    seen.append(rest[:length])      # the rest of `data` is dropped
                    writer.write(OK)
            except ConnectionError:
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server) + "?timeout=0.3")
        await target.send(_batch(5))
        assert _numbers(seen) == [0, 1, 2, 3, 4]
        assert not target._http.pipelining
        await target.send(_batch(3))     # one at a time from now on: no more timeouts
        assert _numbers(seen) == [0, 1, 2, 3, 4, 0, 1, 2]
        await target.close()
        server.close()
    run(go())


def test_a_kept_connection_the_server_dropped_is_opened_again_without_a_failure() -> None:
    async def go() -> None:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await _read_request(reader))
            writer.write(OK)               # kept alive by the answer, then closed: an idle timeout
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server))
        for n in range(4):
            await target.send(_batch(1))
            await asyncio.sleep(0.05)
        assert len(seen) == 4
        await target.close()
        server.close()
    run(go())


# -- real servers --------------------------------------------------------------------------


class _Collect:
    """An ASGI app keeping each POST's body, answering 204."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_uvicorn_receives_every_pipelined_event_in_order(http: str) -> None:
    import uvicorn

    async def go() -> None:
        app = _Collect()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, http=http,
                                               log_level="error", lifespan="off"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        target = make("t", f"http://127.0.0.1:{port}/hook")
        for _ in range(3):
            await target.send(_batch(50))
        assert _numbers(app.bodies) == list(range(50)) * 3
        assert target._http.pipelining
        await target.close()
        server.should_exit = True
        await serving
    run(go())


def test_aiohttp_receives_every_pipelined_event_in_order() -> None:
    from aiohttp import web

    async def go() -> None:
        bodies: list[bytes] = []

        async def hook(request: web.Request) -> web.Response:
            bodies.append(await request.read())
            return web.Response(status=200, text="ok")

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        target = make("t", f"http://127.0.0.1:{port}/hook?secret=s")
        for _ in range(3):
            await target.send(_batch(50))
        assert _numbers(bodies) == list(range(50)) * 3
        assert target._http.pipelining
        await target.close()
        await runner.cleanup()
    run(go())


@pytest.mark.parametrize("protocol", ["HTTP/1.0", "HTTP/1.1"])
def test_http_server_receives_every_event_in_order(protocol: str) -> None:
    """Python's http.server: HTTP/1.0 closes after each answer, HTTP/1.1 keeps the connection
    and reads pipelined requests from its buffered file one after the other."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            bodies.append(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        async def go() -> None:
            target = make("t", f"http://127.0.0.1:{httpd.server_address[1]}/hook")
            for _ in range(3):
                await target.send(_batch(30))
            await target.close()
        run(go())
        assert _numbers(bodies) == list(range(30)) * 3
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_large_pipelines_and_large_answers_do_not_stall_both_sides() -> None:
    """Requests and answers larger than the sockets' buffers: the server stops reading while
    its answer waits to be read, so the client must read answers while it still sends."""
    async def go() -> None:
        seen: list[int] = []
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 900000\r\n\r\n" + b"a" * 900_000

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    seen.append(len(await _read_request(reader)))
                    writer.write(answer)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        target = make("t", _url(server) + "?timeout=5")
        big = b'{"Records":[{"x":"' + b"x" * 1_000_000 + b'"}]}'
        batch = [Delivery(i + 1, "b", f"k{i}", "ObjectCreated:Put", big) for i in range(40)]
        await asyncio.wait_for(target.send(batch), 20)
        assert seen == [len(big)] * 40
        assert target._http.pipelining
        await target.close()
        server.close()
    run(go())


@pytest.mark.parametrize("value", ["0", "1001", "x"])
def test_a_pipeline_option_out_of_range_is_refused_at_startup(value: str) -> None:
    with pytest.raises(ValueError):
        make("t", f"http://127.0.0.1:9/hook?pipeline={value}")


def test_the_pipeline_option_is_not_sent_to_the_receiver() -> None:
    assert make("t", "http://127.0.0.1:9/hook?a=1&pipeline=5").url == "http://127.0.0.1:9/hook?a=1"
