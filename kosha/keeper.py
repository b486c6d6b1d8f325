"""Child processes kept running: the supervisor's workers and the event delivery process.

A child that dies is restarted at once the first time, then with a growing pause while it keeps
dying young (a crash loop must not spin). Settings reach a child pickled on its standard input:
they hold secrets, which must appear in no process listing or environment.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("kosha")

YOUNG = 10.0          # seconds: a child that dies younger than this counts as a crash loop
MAX_PAUSE = 30.0      # seconds: the longest pause before restarting a crash-looping child
KILL_GRACE = 5.0      # seconds a child asked to stop has before it is killed


def restart_pause(failures: int, lived: float) -> tuple[int, float]:
    """After a child that lived `lived` seconds died: (young deaths in a row, seconds to wait)."""
    failures = failures + 1 if lived < YOUNG else 0
    return failures, 0.0 if failures <= 1 else min(MAX_PAUSE, 0.5 * 2 ** (failures - 2))


def spawn(module: str, payload: dict[str, Any], pass_fds: tuple[int, ...] = ()
          ) -> subprocess.Popen[bytes]:
    """`python -m module`, with `payload` pickled on its standard input."""
    process = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE,
                               pass_fds=pass_fds)
    assert process.stdin is not None
    process.stdin.write(pickle.dumps(payload))
    process.stdin.close()
    return process


def exit_text(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


class Kept:
    """One child process (`python -m module`), restarted whenever `poll` finds it dead."""

    def __init__(self, name: str, module: str, payload: dict[str, Any],
                 buried: Callable[[int], None] = lambda _pid: None,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.name = name
        self.module = module
        self.payload = payload
        self.buried = buried
        self.pass_fds = pass_fds
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.failures = 0
        self.restart_at = 0.0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def poll(self) -> None:
        """Start the child if it is not running and its pause is over (never blocks long)."""
        now = time.monotonic()
        process = self.process
        if process is not None:
            code = process.poll()
            if code is None:
                return
            self.buried(process.pid)
            self.process = None
            lived = now - self.started
            self.failures, pause = restart_pause(self.failures, lived)
            self.restart_at = now + pause
            log.warning("%s (pid %d) exited with %s after %.1f s; restarting%s", self.name,
                        process.pid, exit_text(code), lived, f" in {pause:g} s" if pause else "")
        if now >= self.restart_at:
            self.process = spawn(self.module, self.payload, self.pass_fds)
            self.started = time.monotonic()

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM); `wait` for it."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.running:
            assert self.process is not None
            log.warning("%s (pid %d) did not stop in time; killing it", self.name, self.process.pid)
            self.process.kill()

    def wait(self, timeout: float) -> None:
        """Wait for the child to exit, killing it after `timeout` seconds."""
        process = self.process
        if process is None:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            process.wait()
        self.buried(process.pid)
        self.process = None


async def parent_gone(stop: asyncio.Event, parent: int | None = None) -> None:
    """Set `stop` when the parent process (`parent`, if it was known before this process could
    look: it may have died since) is gone, killed with -9, say: no orphan children."""
    parent = parent or os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    log.warning("the parent process (pid %d) is gone; stopping", parent)
    stop.set()
