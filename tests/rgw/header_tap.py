"""A TCP proxy in front of RGW that records what Kosha's requests say about their bodies: the
`x-amz-content-sha256` values (a hex digest when the body is signed, `UNSIGNED-PAYLOAD` when not),
the `x-amz-checksum-*` headers, and the multipart part uploads, so a test can see which payload
mode `--blobs s3://...?payload=` chose and that RGW took it."""

from __future__ import annotations

import re
import socket
import threading

_HEADER = re.compile(rb"\r\n(x-amz-content-sha256|x-amz-checksum-[a-z0-9]+): *([^\r\n]*)\r\n", re.I)
_PART = re.compile(rb"PUT [^ ]*[?&]partNumber=(\d+)[^ ]* HTTP/1\.1\r\n")
_TAIL = 512   # bytes kept from one read to the next, so a header split between reads is found


class HeaderTap:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.content_sha256: set[str] = set()
        self.checksums: dict[str, set[str]] = {}
        self.parts: set[int] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        tail = b""
        try:
            while data := source.recv(1 << 16):
                target.sendall(data)
                if requests:
                    self._record(tail + data)
                    tail = data[-_TAIL:]
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _record(self, data: bytes) -> None:
        with self._lock:
            for name, value in _HEADER.findall(data):
                if name.lower() == b"x-amz-content-sha256":
                    self.content_sha256.add(value.decode())
                else:
                    self.checksums.setdefault(name.lower().decode(), set()).add(value.decode())
            self.parts.update(int(n) for n in _PART.findall(data))
