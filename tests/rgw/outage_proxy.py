"""A TCP proxy in front of RGW that cuts every connection once a number of bytes went through it,
and refuses new ones for a while: a cluster that fails in the middle of a multipart upload, with
parts in flight, then comes back."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class OutageProxy:
    def __init__(self, upstream_port: int, cut_after: int, outage: float) -> None:
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.outage = outage
        self.forwarded = 0
        self.down_until = 0.0
        self.cut = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()
        self._cut_all()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._open |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                target.sendall(data)
                if counted:
                    self._count(len(data))
        except OSError:
            pass
        finally:
            for s in (source, target):
                _shut(s)

    def _count(self, n: int) -> None:
        with self._lock:
            self.forwarded += n
            due = not self.cut and self.forwarded >= self.cut_after
            if due:
                self.cut = True
                self.down_until = time.monotonic() + self.outage
        if due:
            self._cut_all()

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for s in sockets:
            _shut(s)


def _shut(s: Any) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
