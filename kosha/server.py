"""`kosha serve`: the KOS port and the S3 port, served by uvicorn in one process and one loop,
over HTTPS on both when --tls-cert/--tls-key are given.

With `--workers 1` this is the whole server (with notification targets, plus the event delivery
process it keeps: kosha.notify.process); with more, `kosha.supervisor` binds the ports, runs
the start-up work once and runs this in each worker process on the sockets it hands over.
uvicorn (uvloop + httptools) was chosen by measurement; see docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import ssl
from dataclasses import dataclass

import uvicorn

from . import metrics, metrics_shared
from .api.app import build_kos_app
from .asgi import CloseIfBodyUnread
from .config import Settings
from .keeper import KILL_GRACE, Kept, parent_gone
from .limits import Limits, protocol_class
from .notify import process as delivery
from .observe import Observed, refused_logger
from .s3.app import build_s3_app
from .services.container import Kosha

log = logging.getLogger("kosha")
KEEP_SECONDS = 0.5   # between looks at the delivery process
# Python's cyclic GC runs a young collection every 700 net allocations of container objects by
# default: every ~12 small requests, 0.1-0.2 ms each, and every tenth of those runs a collection
# of the older heap; together 13-20 % of a 4 KiB PUT's CPU in process (docs/benchmarks.md,
# "Less event-loop work per small request"). Nearly all of a request's objects die by
# reference count, so collecting the young generation less often frees no less.
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Collect once, then move everything alive to the permanent generation and run young
    collections less often: what start-up built (the app, SQLAlchemy's schema, the spec, the
    modules) stays for the process's life, and without this every full collection walks it
    again (34-89 ms each with the store started). Only cyclic garbage left by start-up objects is
    never collected; objects freed by reference count are freed as before."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def _uvicorn_config(app: object, host: str, port: int, settings: Settings,
                    http: type[asyncio.Protocol], tls: ssl.SSLContext | None = None
                    ) -> uvicorn.Config:
    config = uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http=http, lifespan="off",
        access_log=False, log_level=settings.log_level, server_header=False,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        proxy_headers=False,  # the client address is the peer's: bucket policies depend on it
        timeout_graceful_shutdown=settings.graceful_timeout,  # type: ignore[arg-type]
    )
    if tls is not None:
        config.load()
        config.ssl = tls   # one context for both ports (uvicorn would load the files per port)
    return config


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context from --tls-cert/--tls-key (None without them), loaded once at
    start so a wrong file or a key that does not match fails with a clear message."""
    if settings.tls_cert is None and settings.tls_key is None:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise SystemExit("kosha: --tls-cert and --tls-key go together (KOSHA_TLS_CERT, "
                         "KOSHA_TLS_KEY)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(f"kosha: cannot load the TLS certificate {settings.tls_cert} and key "
                         f"{settings.tls_key}: {exc}") from None
    return context


@dataclass(frozen=True)
class Worker:
    """What a worker process of the supervisor serves: its index and the two bound sockets."""

    index: int
    kos: socket.socket
    s3: socket.socket


MOST_OPEN_FILES = 1 << 20


def allow_open_files() -> None:
    """Raise the soft limit on open descriptors to the hard one (at most MOST_OPEN_FILES): each
    connection takes one, and at the soft limit libuv resets every new connection at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MOST_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MOST_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def check_ports_free(settings: Settings) -> None:
    """Fail with a clear message, before any state changes, if a port is taken."""
    for port, what in ((settings.port, "KOS API"), (settings.s3_port, "S3")):
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((settings.host, port))
            except OSError as exc:
                raise SystemExit(f"kosha: cannot listen on {settings.host}:{port} for the {what} "
                                 f"({exc.strerror}); choose another port with --port/--s3-port") from None


async def serve(settings: Settings, worker: Worker | None = None) -> None:
    """Serve both ports until SIGTERM/SIGINT, then let requests in flight finish (bounded).

    Alone (`worker` None) it checks the ports, migrates and bootstraps; as a supervisor's worker
    that was done once before it started, and it serves the sockets it was given.
    """
    if worker is None:
        check_ports_free(settings)
    allow_open_files()
    tls = tls_context(settings)
    kosha = Kosha(settings)
    kosha.start(prepared=worker is not None)
    try:
        kosha.notifications.prepare()
    except (ValueError, ImportError) as exc:
        kosha.close()
        raise SystemExit(f"kosha: {exc}") from None
    limits = Limits.from_settings(settings)
    limits.on_refused = refused_logger(settings.access_log)
    metrics.watch(limits)
    kos_app = Observed(CloseIfBodyUnread(build_kos_app(kosha)), "kos", settings.access_log)
    s3_app = Observed(CloseIfBodyUnread(build_s3_app(kosha)), "s3", settings.access_log)
    servers = [
        uvicorn.Server(_uvicorn_config(kos_app, settings.host, settings.port, settings,
                                       protocol_class(limits, "kos"), tls)),
        uvicorn.Server(_uvicorn_config(s3_app, settings.host, settings.s3_port, settings,
                                       protocol_class(limits, "s3"), tls)),
    ]
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop_on, sig, stop)
    for server in servers:
        # one handler for both servers (uvicorn's own would replace ours and chain the signal)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    sockets = [None, None] if worker is None else [[worker.kos], [worker.s3]]
    tasks = [asyncio.create_task(s.serve(sockets=socks))  # type: ignore[arg-type]
             for s, socks in zip(servers, sockets)]
    kosha.background.start()   # every worker: the leases let one process at a time run each job
    chores = []
    deliverer = None
    if worker is None:
        log.info("KOS API on %s, S3 on %s, data in %s", settings.kos_url, settings.s3_url,
                 settings.data_dir)
        kosha.notifications.log_targets()
        deliverer = delivery.child(settings, metrics_shared.process_gone)
        if deliverer is not None:
            chores.append(asyncio.create_task(_keep(deliverer)))
    else:
        chores.append(asyncio.create_task(metrics_shared.publish_forever(kosha.auth)))
        chores.append(asyncio.create_task(parent_gone(stop)))
        log.debug("worker %d (pid %d) serving", worker.index, os.getpid())
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if stopped not in done:
        log.error("a listener's server ended by itself; stopping")
    for server in servers:
        server.should_exit = True
    for chore in chores:
        chore.cancel()
    if deliverer is not None:
        deliverer.terminate()
    await asyncio.gather(*tasks, *chores, kosha.background.stop(), return_exceptions=True)
    if deliverer is not None:
        await asyncio.to_thread(deliverer.wait, KILL_GRACE)
    await kosha.notifications.close()
    if worker is not None:
        metrics_shared.publish(kosha.auth)
    kosha.close()
    for task in done:
        if task is not stopped and task.exception():
            raise task.exception()  # type: ignore[misc]


def _stop_on(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.warning("%s received; stopping", sig.name)
    stop.set()


async def _keep(child: Kept) -> None:
    """Restart `child` whenever it dies (kosha.keeper), until cancelled."""
    while True:
        await asyncio.sleep(KEEP_SECONDS)
        await asyncio.to_thread(child.poll)


def run(settings: Settings, worker: Worker | None = None) -> None:
    import uvloop
    uvloop.run(serve(settings, worker))
