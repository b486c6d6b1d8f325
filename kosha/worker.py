"""One worker process of `kosha serve --workers N`, started by `kosha.supervisor`.

It reads its settings, index and listening sockets (inherited file descriptors) from its standard
input, so that no secret of the settings appears in a process listing or an environment.
"""

from __future__ import annotations

import logging
import pickle
import socket
import sys


def main() -> None:
    payload = pickle.load(sys.stdin.buffer)
    settings = payload["settings"]
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    from .server import Worker, run
    worker = Worker(payload["index"], socket.socket(fileno=payload["kos"]),
                    socket.socket(fileno=payload["s3"]))
    run(settings, worker)


if __name__ == "__main__":
    main()
