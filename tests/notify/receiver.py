"""A webhook receiver for the tests: a real HTTP server on a loopback port, in a thread.

It keeps every event POSTed to it (the parsed JSON, the headers), can be stopped and started
again on the same port (a target that goes away and comes back), and can be told to answer
errors instead.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.raw: list[bytes] = []
        self.status = 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if receiver.status == 200:
                    with receiver._lock:
                        receiver.raw.append(body)
                        receiver.events.append(json.loads(body))
                        receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for e in self.events for r in e["Records"]]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The records once `predicate(records)` holds (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if predicate(records):
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"events not received in {timeout}s; got {len(records)}: "
                                     f"{[r['eventName'] + ' ' + r['s3']['object']['key'] for r in records][:20]}")
            time.sleep(0.05)

    def keys(self, event_prefix: str = "") -> list[str]:
        return [r["s3"]["object"]["key"] for r in self.records()
                if r["eventName"].startswith(event_prefix)]
