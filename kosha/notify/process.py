"""The event delivery process (`python -m kosha.notify.process`).

`kosha serve` keeps one running next to the processes that serve requests (the single server
process, or the supervisor under `--workers N`; kosha.keeper restarts it if it dies), so that
sending events takes no CPU from the requests: those only insert the outbox row. It runs the
delivery worker under the `notify` lease (one process of a deployment delivers at a time), and
learns of new events by polling the outbox cheaply (`follow_outbox`). Its settings come pickled
on its standard input (they hold secrets); its metrics go to prometheus_client's multiprocess
files, which the serving processes read on a scrape of /metrics.

It runs `--notify-nice` steps (default 10) below the server's CPU priority: delivery is background
work, so when the cores are saturated the requests go first and the backlog grows in the outbox,
to be drained when the load falls (the backlog limit still bounds it). The processes share one
session, so the kernel's autogroup scheduling does not hide the difference between them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..keeper import Kept, parent_gone

if TYPE_CHECKING:
    from ..config import Settings

MODULE = "kosha.notify.process"


def child(settings: Settings, buried: Callable[[int], None]) -> Kept | None:
    """The delivery process, started, when notification targets are configured (else None);
    the caller `poll`s it to keep it running."""
    if not settings.notify_targets:
        return None
    payload = {"settings": settings, "parent": os.getpid()}
    kept = Kept("notification delivery", MODULE, payload, buried)
    kept.poll()
    return kept


async def deliver(settings: Settings, parent: int) -> None:
    """Deliver until SIGTERM/SIGINT or the parent's death, then give the lease up."""
    from ..services.background import Background
    from ..services.container import Kosha
    from ..services.notifications import LEASE
    kosha = Kosha(settings)
    notifications = kosha.notifications
    notifications.prepare()
    background = Background(kosha)
    background.register(LEASE, notifications.deliver_pass, 1.0, report=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    background.start()
    chores = [asyncio.create_task(notifications.follow_outbox()),
              asyncio.create_task(parent_gone(stop, parent))]
    try:
        await stop.wait()
    finally:
        for chore in chores:
            chore.cancel()
        await asyncio.gather(*chores, background.stop(), return_exceptions=True)
        await notifications.close()
        kosha.close()


def lower_priority(steps: int) -> None:
    """Add `steps` to this process's niceness (the kernel caps it at 19); a negative value
    (above the server) needs privileges, and without them delivery runs at the server's."""
    if steps == 0:
        return
    try:
        os.nice(steps)
    except OSError as exc:
        logging.getLogger("kosha").warning(
            "the delivery process cannot change its niceness by %d (%s); it runs at the "
            "server's", steps, exc)


def main() -> None:
    payload: dict[str, Any] = pickle.load(sys.stdin.buffer)
    settings = payload["settings"]
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    lower_priority(settings.notify_nice)
    import uvloop
    uvloop.run(deliver(settings, payload["parent"]))


if __name__ == "__main__":
    main()
