"""A TCP proxy in front of RGW, one thread per direction of each connection: the base of the
test proxies that watch or cut what Kosha sends to its blob cluster."""

from __future__ import annotations

import socket
import threading
from typing import Any


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def admit(self, client: socket.socket) -> bool:
        """Whether to serve a new connection (a refused one is closed)."""
        return True

    def opened(self, client: socket.socket, upstream: socket.socket) -> None:
        """A connection and its upstream are open."""

    def forwarded(self, data: bytes, from_client: bool) -> None:
        """`data` went through, from the client (Kosha) or from upstream (RGW)."""

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.admit(client):
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.opened(client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                target.sendall(data)
                self.forwarded(data, from_client)
        except OSError:
            pass
        finally:
            shut(source)
            shut(target)


def shut(s: Any) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
