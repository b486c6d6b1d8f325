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
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from .config import Settings, env
from .keeper import KILL_GRACE, Kept, spawn
from .notify.process import child as delivery_child

log = logging.getLogger("kosha")

BACKLOG = 2048
POLL = 0.1            # seconds between checks of the workers


@dataclass
class Slot:
    """One worker position: its sockets, and its process kept running."""

    index: int
    kos: socket.socket
    s3: socket.socket
    kept: Kept


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
                slot.kept.poll()
            self.delivery = delivery_child(self.settings, self._buried)
            log.info("KOS API on %s, S3 on %s, data in %s, %d workers", self.settings.kos_url,
                     self.settings.s3_url, self.settings.data_dir, len(self.slots))
            while not self.stopping:
                self._watch()
                time.sleep(POLL)
            self._stop_all()
        finally:
            for kept in self._children():
                kept.wait(0)
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
            payload = {"settings": settings, "index": index, "kos": kos.fileno(),
                       "s3": s3.fileno()}
            self.slots.append(Slot(index, kos, s3, Kept(f"worker {index}", "kosha.worker", payload,
                                                        self._buried, (kos.fileno(), s3.fileno()))))

    def _children(self) -> list[Kept]:
        """Every process kept: the workers, and the delivery process if there is one."""
        workers = [slot.kept for slot in self.slots]
        return workers if self.delivery is None else [*workers, self.delivery]

    def _prepare(self) -> None:
        """The start-up work done once for all workers, in a process of its own (so that the
        supervisor stays small and holds no database connection): the TLS certificate and the
        notification targets checked, the schema migrated, the operator bootstrapped."""
        code = spawn("kosha.worker", {"settings": self.settings, "prepare": True}).wait()
        if code != 0:
            raise SystemExit(code if code > 0 else 1)   # the reason is on stderr already

    def _watch(self) -> None:
        for kept in self._children():
            kept.poll()

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping:
            self.forced = True   # a second signal: do not wait for requests in flight
        self.stopping = True

    def _stop_all(self) -> None:
        """Stop accepting, let every worker finish its requests (bounded), then return."""
        for slot in self.slots:
            slot.kos.close()
            slot.s3.close()
        children = self._children()
        for kept in children:
            kept.terminate()
        deadline = time.monotonic() + self.settings.graceful_timeout + KILL_GRACE
        while any(kept.running for kept in children):
            if self.forced or time.monotonic() > deadline:
                for kept in children:
                    kept.kill()
                break
            time.sleep(POLL)
        for kept in children:
            kept.wait(KILL_GRACE)

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
