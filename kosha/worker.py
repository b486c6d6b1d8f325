"""One worker process of `kosha serve --workers N`, started by `kosha.supervisor`.

It reads its settings, index and listening sockets (inherited file descriptors) from its standard
input, so that no secret of the settings appears in a process listing or an environment. Run
with `prepare` instead, it does the supervisor's once-only start-up work and exits.
"""

from __future__ import annotations

import logging
import pickle
import socket
import sys
from typing import Any


def main() -> None:
    payload = pickle.load(sys.stdin.buffer)
    settings = payload["settings"]
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    if payload.get("prepare"):
        from .errors import KoshaError
        try:
            prepare(settings)
        except (KoshaError, ValueError, OSError) as exc:   # as `kosha serve` alone reports them
            print(f"kosha: error: {getattr(exc, 'message', exc)}", file=sys.stderr)
            sys.exit(2)
        return
    from .server import Worker, run
    worker = Worker(payload["index"], socket.socket(fileno=payload["kos"]),
                    socket.socket(fileno=payload["s3"]))
    run(settings, worker)


def prepare(settings: Any) -> None:
    """What the supervisor needs done once before it starts the workers (kosha.supervisor)."""
    from .server import tls_context
    from .services.container import Kosha
    tls_context(settings)
    kosha = Kosha(settings)
    try:
        kosha.start()
        try:
            kosha.notifications.prepare()
        except (ValueError, ImportError) as exc:
            raise SystemExit(f"kosha: {exc}") from None
        kosha.notifications.log_targets()
    finally:
        kosha.close()


if __name__ == "__main__":
    main()
