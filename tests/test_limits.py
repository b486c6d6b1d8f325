"""Connection and request limits (kosha/limits.py), probed over raw sockets on both ports."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

FAST = ("--header-timeout", "1", "--keep-alive-timeout", "1", "--body-timeout", "1",
        "--min-body-rate", "100")


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _send_all(sock: socket.socket, *chunks: bytes) -> None:
    """Send what the server still takes: it may answer and close in the middle."""
    try:
        for chunk in chunks:
            sock.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def fast(server_factory: Callable[..., Any]) -> Any:
    """A server with one-second timeouts and small caps."""
    return server_factory(*FAST, "--max-connections-per-client", "8",
                          "--max-uploads-per-client", "2")


@pytest.mark.parametrize("port", ["kos", "s3"])
def test_eight_megabyte_header_lines_answer_431(fast: Any, port: str) -> None:
    sock = _connect(fast.kos_url if port == "kos" else fast.s3_url)
    line = b"X-Big-%d: " + b"a" * (1024 * 1024) + b"\r\n"
    _send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
              *(line.replace(b"%d", str(i).encode()) for i in range(8)), b"\r\n")
    assert _status(_answer(sock)) == 431


def test_too_many_header_lines_answer_431(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    _send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert _status(_answer(sock)) == 431


def test_headers_within_the_limits_are_served(fast: Any) -> None:
    headers = {f"x-h{i}": "v" * 500 for i in range(90)}
    assert httpx.get(f"{fast.kos_url}/healthz", headers=headers).status_code == 200


@pytest.mark.parametrize("port", ["kos", "s3"])
def test_long_request_line_answers_414(fast: Any, port: str) -> None:
    sock = _connect(fast.kos_url if port == "kos" else fast.s3_url)
    _send_all(sock, b"GET /" + b"a" * (17 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(_answer(sock)) == 414


def test_unfinished_headers_do_not_grow_memory(start_server: Callable[..., Any]) -> None:
    """Ten connections each sending 50 MiB of one header line: the server keeps at most the
    header limit per connection."""
    limit = 1024 * 1024
    srv = start_server("--max-header-bytes", str(limit))
    assert srv.process is not None
    before = _rss(srv.process.pid)
    chunk = b"a" * (1024 * 1024)

    def flood() -> None:
        sock = _connect(srv.kos_url)
        _send_all(sock, b"GET /healthz HTTP/1.1\r\nX-Flood: ", *([chunk] * 50))
        sock.close()

    threads = [threading.Thread(target=flood) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    growth = _rss(srv.process.pid) - before
    assert growth < 10 * limit + 4 * 1024 * 1024, f"RSS grew by {growth / 2**20:.1f} MiB"


def test_silent_connection_is_closed_after_the_header_timeout(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    started = time.monotonic()
    assert _answer(sock) == b""
    assert time.monotonic() - started < 4


def test_slowloris_head_answers_408(fast: Any) -> None:
    sock = _connect(fast.s3_url)
    started = time.monotonic()
    _send_all(sock, b"GET / HTTP/1.1\r\nHost: x\r\n")
    sock.settimeout(0.2)
    answer = b""
    while not answer and time.monotonic() - started < 6:
        _send_all(sock, b"X")           # one byte of a header line at a time
        try:
            answer = sock.recv(65536)
        except TimeoutError:
            pass
    assert _status(answer) == 408
    assert time.monotonic() - started < 4


def test_body_that_stops_short_answers_408(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    started = time.monotonic()
    _send_all(sock, b"POST /kos/v1/sessions/activate HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\": ")
    assert _status(_answer(sock)) == 408
    assert time.monotonic() - started < 5


def test_trickling_body_answers_408(fast: Any) -> None:
    """100 bytes/s is the minimum: 10 bytes/s is refused though bytes keep coming."""
    sock = _connect(fast.kos_url)
    started = time.monotonic()
    _send_all(sock, b"POST /kos/v1/sessions/activate HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    sock.settimeout(0.1)
    answer = b""
    while not answer and time.monotonic() - started < 6:
        _send_all(sock, b" ")
        try:
            answer = sock.recv(65536)
        except TimeoutError:
            pass
    assert _status(answer) == 408
    assert time.monotonic() - started < 5


def test_body_above_the_minimum_rate_is_served(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    body = b'{"accessKey": "KOSNOSUCHKEY00000000", "secretKey": "s"' + b" " * 700 + b"}"
    _send_all(sock, b"POST /kos/v1/sessions/activate HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 60):   # 600 bytes/s for 1.3 s
        time.sleep(0.1)
        _send_all(sock, body[i:i + 60])
    assert _status(_answer(sock)) == 401


def test_idle_keep_alive_connection_is_closed(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    _send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}'):
        first += sock.recv(65536)
    assert _status(first) == 200
    started = time.monotonic()
    assert _answer(sock) == b""
    assert time.monotonic() - started < 4


def test_keep_alive_connection_in_use_past_the_timeout_stays_open_until_idle(fast: Any) -> None:
    sock = _connect(fast.kos_url)
    started = time.monotonic()
    while time.monotonic() - started < 2.5:     # requests every 0.3 s, over 2.5 timeouts
        _send_all(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            chunk = sock.recv(65536)
            assert chunk, "closed while in use"
            answer += chunk
        assert _status(answer) == 200
        time.sleep(0.3)
    idle = time.monotonic()
    assert _answer(sock) == b""
    assert 0.5 < time.monotonic() - idle < 3


def test_connections_per_client_address_are_capped(fast: Any) -> None:
    held = [_connect(fast.kos_url) for _ in range(8)]
    time.sleep(0.2)   # accepted before the next, which comes on the other port's listener
    refused = _connect(fast.s3_url)   # the cap counts both ports
    answer = _answer(refused)
    assert _status(answer) == 503 and b"retry-after: 1" in answer.lower()
    for sock in held:
        sock.close()


def test_uploads_per_client_address_are_capped(fast: Any) -> None:
    head = (b"POST /kos/v1/sessions/activate HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    uploading = [_connect(fast.kos_url) for _ in range(2)]
    for sock in uploading:
        _send_all(sock, head)
    time.sleep(0.2)
    third = _connect(fast.kos_url)
    _send_all(third, head)
    assert _status(_answer(third)) == 503
    for sock in uploading:
        sock.close()


def test_connections_in_total_are_capped(start_server: Callable[..., Any]) -> None:
    srv = start_server("--max-connections", "4")
    held = [_connect(srv.kos_url) for _ in range(4)]
    time.sleep(0.2)
    host, port = srv.kos_url.removeprefix("http://").split(":")
    other = socket.create_connection((host, int(port)), timeout=10,
                                     source_address=("127.0.0.2", 0))   # another client
    assert _status(_answer(other)) == 503
    for sock in held:
        sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{srv.kos_url}/healthz").status_code == 200


def test_the_server_raises_its_open_files_limit_to_the_hard_limit(start_server: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit leaves no room to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))   # the server inherits it
    try:
        srv = start_server()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    raised, kept_hard = resource.prlimit(srv.process.pid, resource.RLIMIT_NOFILE)
    assert kept_hard == hard
    assert raised == min(hard, 1 << 20)
