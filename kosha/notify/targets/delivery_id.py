"""A message id for one delivery that brokers (and consumers) can use to recognise a resend."""

from __future__ import annotations

import hashlib

from kosha.notify.targets.base import Delivery


def message_id(delivery: Delivery) -> str:
    """Stable for a given outbox row and configuration, so a resend carries the same id; the
    body's digest keeps two deployments that share a broker (both counting sequences from 1),
    and two configurations of one bucket routed to the same target, from colliding."""
    digest = hashlib.sha256(delivery.body).hexdigest()[:24]
    return f"{delivery.sequence}-{digest}"
