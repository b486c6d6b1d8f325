"""Helpers for the broker target tests: batches of deliveries, and brokers of the tests' own.

The machine's shared brokers (NATS 4222, Redis 6379, RabbitMQ 5672, Mosquitto 1883, PostgreSQL
5432) are never stopped by a test. A test that needs a broker to go away and come back starts
its own `redis-server`, `nats-server` or `mosquitto` on a free loopback port (`OwnBroker`),
kills it and starts it again on the same port.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from kosha.notify.targets.base import Delivery

EVENT = "s3:ObjectCreated:Put"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def deliveries(count: int, start: int = 1, bucket: str = "photos") -> list[Delivery]:
    """Events with distinct bodies (a non-ASCII key among them), as the outbox hands them over."""
    batch = []
    for sequence in range(start, start + count):
        key = f"2026/día-{sequence}.jpg"
        body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
            "bucket": {"name": bucket}, "object": {"key": key, "sequencer": f"{sequence:016X}"}}}]},
            ensure_ascii=False).encode()
        batch.append(Delivery(sequence, bucket, key, EVENT, body))
    return batch


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def free_port() -> int:
    for _ in range(100):
        port = random.randrange(20000, 30000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class OwnBroker:
    """A broker process of the test's own on a fixed free port, which it can kill and restart."""

    def __init__(self, command: Callable[[int, Path], list[str]], workdir: Path) -> None:
        self.port = free_port()
        self._command = command
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(self._command(self.port, self._workdir), cwd=self._workdir,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None


def own_broker(binary: str, command: Callable[[int, Path], list[str]], tmp_path: Path) -> OwnBroker:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed")
    return OwnBroker(command, tmp_path)


def redis_server(tmp_path: Path) -> OwnBroker:
    """Keeps what it was sent across a kill (append-only file, fsync per write), as a broker
    that comes back after an outage does."""
    return own_broker("redis-server", lambda port, d: [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
        "--appendfsync", "always", "--dir", str(d)], tmp_path)


def nats_server(tmp_path: Path) -> OwnBroker:
    return own_broker("nats-server", lambda port, d: [
        "nats-server", "-a", "127.0.0.1", "-p", str(port)], tmp_path)


def mosquitto(tmp_path: Path) -> OwnBroker:
    def command(port: int, d: Path) -> list[str]:
        config = d / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        return ["mosquitto", "-c", str(config)]
    return own_broker("mosquitto", command, tmp_path)
