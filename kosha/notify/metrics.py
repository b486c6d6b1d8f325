"""The delivery's figures in /metrics (registered on kosha.metrics.REGISTRY).

Counters count what this process did (summed over the workers under `--workers N`); the backlog
gauges are read from the database by every process's monitor each second, so every process
reports the same levels (the largest of the live ones is shown).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ..metrics import REGISTRY

DELIVERED = Counter("kosha_notify_delivered", "Events delivered, by target.", ["target"],
                    registry=REGISTRY)
FAILURES = Counter("kosha_notify_failures", "Failed delivery attempts (batches), by target.",
                   ["target"], registry=REGISTRY)
LAST_ERROR = Gauge("kosha_notify_last_error_time_seconds",
                   "When a delivery to the target last failed (Unix time).", ["target"],
                   registry=REGISTRY, multiprocess_mode="max")
DROPPED = Counter("kosha_notify_dropped", "Events not recorded because the outbox held "
                  "--notify-backlog-max rows.", registry=REGISTRY)
BACKLOG = Gauge("kosha_notify_backlog", "Outbox rows a target has not passed yet.", ["target"],
                registry=REGISTRY, multiprocess_mode="livemax")
OUTBOX_ROWS = Gauge("kosha_notify_outbox_rows", "Rows in the outbox (from its first to its "
                    "last sequence).", registry=REGISTRY, multiprocess_mode="livemax")
