"""Delivery targets, one module per kind, chosen by the scheme of the operator's target URL.

Each kind's module exposes `make(id: str, url: str) -> Target` (a function or a class). The
module is imported only when a target of its kind is configured, so a broker client library
that is not installed fails the start-up of a server that asks for that kind, and nothing else.
"""

from __future__ import annotations

import importlib

from .base import Target

# URL scheme -> module (and kind, as the target's ARN shows it).
KINDS: dict[str, str] = {
    "http": "webhook", "https": "webhook",
    "nats": "nats", "nats+jetstream": "jetstream",
    "redis": "redis", "rediss": "redis",
    "amqp": "amqp", "amqps": "amqp",
    "mqtt": "mqtt", "mqtts": "mqtt",
    "postgresql": "postgresql", "postgres": "postgresql",
}


def kind_of(url: str) -> str:
    """The kind a target URL names by its scheme (ValueError for an unknown scheme)."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    kind = KINDS.get(scheme)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"notification target URL scheme {scheme or '(none)'!r} is not one of {known}")
    return kind


def make(target_id: str, url: str) -> Target:
    """Build the target (no connection is made until the first delivery)."""
    module = importlib.import_module(f"{__name__}.{kind_of(url)}")
    return module.make(target_id, url)  # type: ignore[no-any-return]
