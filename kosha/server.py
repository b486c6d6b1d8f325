"""`kosha serve`: the KOS port and the S3 port, served by uvicorn in one process and one loop.

uvicorn (uvloop + httptools) was chosen by measurement; see docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

import uvicorn

from . import metrics
from .api.app import build_kos_app
from .asgi import CloseIfBodyUnread
from .config import Settings
from .limits import Limits, protocol_class
from .observe import Observed, refused_logger
from .s3.app import build_s3_app
from .services.container import Kosha

log = logging.getLogger("kosha")


def _uvicorn_config(app: object, host: str, port: int, settings: Settings,
                    http: type[asyncio.Protocol]) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http=http, lifespan="off",
        access_log=False, log_level=settings.log_level, server_header=False,
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        proxy_headers=False,  # the client address is the peer's: bucket policies depend on it
    )


def _check_ports_free(settings: Settings) -> None:
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


async def serve(settings: Settings) -> None:
    _check_ports_free(settings)
    kosha = Kosha(settings)
    kosha.start()
    limits = Limits.from_settings(settings)
    limits.on_refused = refused_logger(settings.access_log)
    metrics.watch(limits)
    kos_app = Observed(CloseIfBodyUnread(build_kos_app(kosha)), "kos", settings.access_log)
    s3_app = Observed(CloseIfBodyUnread(build_s3_app(kosha)), "s3", settings.access_log)
    servers = [
        uvicorn.Server(_uvicorn_config(kos_app, settings.host, settings.port, settings,
                                       protocol_class(limits, "kos"))),
        uvicorn.Server(_uvicorn_config(s3_app, settings.host, settings.s3_port, settings,
                                       protocol_class(limits, "s3"))),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for server in servers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    kosha.background.start()
    log.info("KOS API on %s, S3 on %s, data in %s", settings.kos_url, settings.s3_url,
             settings.data_dir)
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, kosha.background.stop(), return_exceptions=True)
    kosha.close()
    for task in done:
        if task is not stopped and task.exception():
            raise task.exception()  # type: ignore[misc]


def run(settings: Settings) -> None:
    import uvloop
    uvloop.run(serve(settings))
