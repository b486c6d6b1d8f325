"""A response's head waits for its first body bytes (kosha/one_write.py): answers stay whole
and in order on a keep-alive connection, for HEAD (no body bytes at all), pipelined requests,
`Expect: 100-continue` and errors, over raw sockets on both ports."""

from __future__ import annotations

import socket
from typing import Any


def _connect(url: str) -> socket.socket:
    host, port = url.rsplit("/", 1)[-1].split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_answer(sock: socket.socket, buf: bytearray, head_request: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One response from `buf` + the socket: (status, headers, body)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed; got {bytes(buf)!r}"
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[:end + 4]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = 0 if head_request else int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return int(lines[0].split()[1]), headers, body


def test_pipelined_head_and_get_are_answered_whole_and_in_order(server: Any) -> None:
    with _connect(server.kos_url) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = bytearray()
        status, headers, body = _read_answer(sock, buf, head_request=True)
        assert status in (200, 405) and body == b""
        status, headers, body = _read_answer(sock, buf)
        assert status == 200 and b"ok" in body and len(body) == int(headers["content-length"])
        status, _headers, _body = _read_answer(sock, buf, head_request=True)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")     # still open, still in step
        status, _headers, body = _read_answer(sock, buf)
        assert status == 200 and b"ok" in body and not buf


def test_s3_head_and_errors_on_one_connection(server: Any) -> None:
    with _connect(server.s3_url) as sock:
        buf = bytearray()
        for _ in range(3):
            sock.sendall(b"HEAD /no-such-bucket-here/k HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = _read_answer(sock, buf, head_request=True)
            assert status in (403, 404) and body == b"" and "x-amz-request-id" in headers
            sock.sendall(b"GET /no-such-bucket-here/k HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = _read_answer(sock, buf)
            assert status in (403, 404) and body.startswith(b"<?xml")
        assert not buf


def test_expect_100_continue_gets_its_interim_answer_first(server: Any) -> None:
    with _connect(server.s3_url) as sock:
        sock.sendall(b"PUT /no-such-bucket-here/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        buf = bytearray()
        status, _headers, body = _read_answer(sock, buf)
        if status == 100:           # the answer may also come at once, without reading the body
            sock.sendall(b"hello")
            status, _headers, body = _read_answer(sock, buf)
        assert status in (403, 404) and body.startswith(b"<?xml")
