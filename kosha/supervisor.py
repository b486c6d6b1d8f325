"""`kosha serve --workers N`: one supervisor process and N worker processes on the same two ports.

The supervisor binds both ports once (a clear error if one is taken, before anything changes),
has the schema migrated and the operator bootstrapped once, by a short-lived process (one set of
root credentials, however many workers), then starts N workers (`python -m kosha.worker`), handing them the listening sockets.
The kernel spreads the connections over the workers. It serves nothing itself; it restarts a
worker that dies (at once the first time, then with a growing pause while it keeps dying young,
so a crash loop does not spin: kosha.keeper) and, on SIGTERM or SIGINT, stops the workers gracefully: they stop
accepting, finish the requests in flight within `--graceful-timeout`, and exit; then it exits 0.

Sockets: by default every worker gets its own SO_REUSEPORT socket per port, bound here and kept
open here, so the kernel hashes connections evenly over the workers and a worker's restart loses
none (they wait in its socket's backlog). `KOSHA_LISTEN_MODE=shared` gives every worker the same
socket instead; docs/scaling.md has the measurements behind the choice.

With notification targets configured it also keeps the event delivery process running
(kosha.notify.process): the workers only record events.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from .config import Settings, env
from .keeper import KILL_GRACE, Kept, exit_text, restart_pause, spawn
from .notify.process import child as delivery_child

log = logging.getLogger("kosha")

BACKLOG = 2048
POLL = 0.1            # seconds between checks of the workers


@dataclass
class Slot:
    """One worker position: its sockets, its current process, and its crash history."""

    index: int
    kos: socket.socket
    s3: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0


def listen(host: str, port: int, what: str, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"kosha: cannot listen on {host}:{port} for the {what} "
                         f"({exc.strerror}); choose another port with --port/--s3-port") from None
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots: list[Slot] = []
        self.stopping = False
        self.forced = False
        self.metrics_dir = ""
        self.delivery: Kept | None = None

    def run(self) -> int:
        self._bind()
        self._prepare()
        self.metrics_dir = metrics_dir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            for slot in self.slots:
                self._start(slot)
            self.delivery = delivery_child(self.settings, self._buried)
            log.info("KOS API on %s, S3 on %s, data in %s, %d workers", self.settings.kos_url,
                     self.settings.s3_url, self.settings.data_dir, len(self.slots))
            while not self.stopping:
                self._watch()
                time.sleep(POLL)
            self._stop_all()
        finally:
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is None:
                    slot.process.kill()
                    slot.process.wait()
            if self.delivery is not None:
                self.delivery.wait(0)
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return 0

    def _bind(self) -> None:
        """Bind every socket now. A plain bind first: it fails if anything, even another
        SO_REUSEPORT server of the same user, holds a port, which must not share our traffic."""
        settings = self.settings
        for port, what in ((settings.port, "KOS API"), (settings.s3_port, "S3")):
            listen(settings.host, port, what, reuse_port=False).close()
        shared = (env("LISTEN_MODE") or "reuseport").strip().lower() == "shared"
        kos = s3 = None
        for index in range(settings.workers):
            if kos is None or not shared:
                kos = listen(settings.host, settings.port, "KOS API", not shared)
                s3 = listen(settings.host, settings.s3_port, "S3", not shared)
            assert s3 is not None
            self.slots.append(Slot(index, kos, s3))

    def _prepare(self) -> None:
        """The start-up work done once for all workers, in a process of its own (so that the
        supervisor stays small and holds no database connection): the TLS certificate and the
        notification targets checked, the schema migrated, the operator bootstrapped."""
        code = spawn("kosha.worker", {"settings": self.settings, "prepare": True}).wait()
        if code != 0:
            raise SystemExit(code if code > 0 else 1)   # the reason is on stderr already

    def _start(self, slot: Slot) -> None:
        payload = {"settings": self.settings, "index": slot.index,
                   "kos": slot.kos.fileno(), "s3": slot.s3.fileno()}
        process = spawn("kosha.worker", payload, pass_fds=(slot.kos.fileno(), slot.s3.fileno()))
        slot.process, slot.started = process, time.monotonic()

    def _watch(self) -> None:
        if self.delivery is not None:
            self.delivery.poll()
        now = time.monotonic()
        for slot in self.slots:
            process = slot.process
            if process is not None:
                code = process.poll()
                if code is None:
                    continue
                self._buried(process.pid)
                slot.process = None
                lived = now - slot.started
                slot.failures, pause = restart_pause(slot.failures, lived)
                slot.restart_at = now + pause
                log.warning("worker %d (pid %d) exited with %s after %.1f s; restarting%s",
                            slot.index, process.pid, exit_text(code), lived,
                            f" in {pause:g} s" if pause else "")
            if slot.process is None and now >= slot.restart_at:
                self._start(slot)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping:
            self.forced = True   # a second signal: do not wait for requests in flight
        self.stopping = True

    def _stop_all(self) -> None:
        """Stop accepting, let every worker finish its requests (bounded), then return."""
        for slot in self.slots:
            slot.kos.close()
            slot.s3.close()
        running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        if self.delivery is not None:
            self.delivery.terminate()
        deadline = time.monotonic() + self.settings.graceful_timeout + KILL_GRACE
        while any(p.poll() is None for p in running):
            if self.forced or time.monotonic() > deadline:
                for process in running:
                    if process.poll() is None:
                        log.warning("worker pid %d did not stop in time; killing it", process.pid)
                        process.kill()
                break
            time.sleep(POLL)
        for process in running:
            process.wait()
            self._buried(process.pid)
        if self.delivery is not None:
            self.delivery.wait(KILL_GRACE)

    def _buried(self, pid: int) -> None:
        from prometheus_client.multiprocess import mark_process_dead
        mark_process_dead(pid, self.metrics_dir)


def metrics_dir() -> str:
    """A private directory for the workers' metric files, named after this supervisor's pid;
    those of supervisors that died without cleaning up (kill -9) are removed first."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        owner = name.split("-")[2] if name.startswith("kosha-metrics-") and name.count("-") >= 3 \
            else ""
        if owner.isdigit() and not _alive(int(owner)):
            path = os.path.join(base, name)
            if os.path.isdir(path) and os.stat(path).st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"kosha-metrics-{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
