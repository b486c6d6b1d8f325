"""A TCP proxy in front of RGW that cuts every connection once a number of bytes went through it,
and refuses new ones for a while: a cluster that fails in the middle of a multipart upload, with
parts in flight, then comes back."""

from __future__ import annotations

import socket
import time

from .tcp_proxy import TcpProxy, shut


class OutageProxy(TcpProxy):
    def __init__(self, upstream_port: int, cut_after: int, outage: float) -> None:
        self.cut_after = cut_after
        self.outage = outage
        self.bytes_forwarded = 0
        self.down_until = 0.0
        self.cut = False
        self._open: set[socket.socket] = set()
        super().__init__(upstream_port)

    def close(self) -> None:
        super().close()
        self._cut_all()

    def admit(self, client: socket.socket) -> bool:
        return time.monotonic() >= self.down_until

    def opened(self, client: socket.socket, upstream: socket.socket) -> None:
        with self._lock:
            self._open |= {client, upstream}

    def forwarded(self, data: bytes, from_client: bool) -> None:
        if not from_client:
            return
        with self._lock:
            self.bytes_forwarded += len(data)
            due = not self.cut and self.bytes_forwarded >= self.cut_after
            if due:
                self.cut = True
                self.down_until = time.monotonic() + self.outage
        if due:
            self._cut_all()

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            shut(s)
