"""Helpers for the `kosha` client tests: the real command as a subprocess against the real server.

`cli(*args, input=None)` runs `python -m kosha ...` with HOME and the XDG directories in the
test's tmp_path and credentials in KOSHA_* (a key of its own for a fresh account, so that the
fixture's HTTP client and the command do not end each other's sessions). `bucket` is a new
bucket of that account; `account` (the fixture client) checks what the command did.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
API = "/kos/v1"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@dataclass
class Cli:
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def environment(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("KOSHA_")}
        return {**base, "PYTHONPATH": str(REPO), "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / "config"),
                "XDG_CACHE_HOME": str(self.home / "cache"), **self.env, **extra}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kosha", *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 300,
                 **extra: str) -> Result:
        done = subprocess.run(self.command(*args), input=input, capture_output=True, text=True,
                              env=self.environment(**extra), cwd=self.home, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env=self.environment(**extra), cwd=self.home)

    def on_terminal(self, *args: str, answer: str = "") -> tuple[int, str]:
        """Run with stdin and stderr on a pseudo-terminal, typing `answer`: the exit code and
        what the terminal showed."""
        master, slave = pty.openpty()
        process = subprocess.Popen(self.command(*args), stdin=slave, stdout=subprocess.DEVNULL,
                                   stderr=slave, env=self.environment(), cwd=self.home)
        os.close(slave)
        if answer:
            os.write(master, answer.encode())
        shown = bytearray()
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        os.close(master)
        return process.wait(timeout=60), shown.decode(errors="replace")

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "kosha" / "config.json"


def new_key(client: Any) -> tuple[str, str]:
    response = client.post(f"{API}/access_keys", json={"key_name": "cli"})
    assert response.status_code == 201, response.text
    return response.json()["access_key"], response.json()["secret_key"]


def put(client: Any, bucket: str, key: str, data: bytes) -> None:
    response = client.put(f"{API}/buckets/{bucket}/objects",
                          files=[("file", (key, data, "application/octet-stream"))])
    assert response.status_code == 201, response.text


def get(client: Any, bucket: str, key: str) -> bytes:
    response = client.post(f"{API}/buckets/{bucket}/objects/download", json={"objectkey": key},
                           headers={"Accept": "application/octet-stream"})
    assert response.status_code == 200, response.text
    return bytes(response.content)


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under prefix (walking the folder listing)."""
    found: list[str] = []
    pending = [prefix]
    while pending:
        current = pending.pop()
        for entry in client.get(f"{API}/buckets/{bucket}/objects",
                                params={"prefix": current}).json()["objects"]:
            (pending if entry["isFolder"] else found).append(entry["key"])
    return sorted(found)
