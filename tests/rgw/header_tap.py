"""A TCP proxy in front of RGW that records what Kosha's requests say about their bodies: the
`x-amz-content-sha256` values (a hex digest when the body is signed, `UNSIGNED-PAYLOAD` when not),
the `x-amz-checksum-*` headers, and the multipart part uploads, so a test can see which payload
mode `--blobs s3://...?payload=` chose and that RGW took it."""

from __future__ import annotations

import re
import threading

from .tcp_proxy import TcpProxy

_HEADER = re.compile(rb"\r\n(x-amz-content-sha256|x-amz-checksum-[a-z0-9]+): *([^\r\n]*)\r\n", re.I)
_PART = re.compile(rb"PUT [^ ]*[?&]partNumber=(\d+)[^ ]* HTTP/1\.1\r\n")
_TAIL = 512   # bytes kept from one read to the next, so a header split between reads is found


class HeaderTap(TcpProxy):
    def __init__(self, upstream_port: int) -> None:
        self.content_sha256: set[str] = set()
        self.checksums: dict[str, set[str]] = {}
        self.parts: set[int] = set()
        self._tails: dict[int, bytes] = {}
        self._tails_lock = threading.Lock()
        super().__init__(upstream_port)

    def forwarded(self, data: bytes, from_client: bool) -> None:
        if not from_client:
            return
        key = threading.get_ident()   # one pumping thread per connection and direction
        with self._tails_lock:
            tail = self._tails.get(key, b"")
            self._tails[key] = data[-_TAIL:]
        self._record(tail + data)

    def _record(self, data: bytes) -> None:
        with self._lock:
            for name, value in _HEADER.findall(data):
                if name.lower() == b"x-amz-content-sha256":
                    self.content_sha256.add(value.decode())
                else:
                    self.checksums.setdefault(name.lower().decode(), set()).add(value.decode())
            self.parts.update(int(n) for n in _PART.findall(data))
