"""`nats+jetstream://` targets: built by the NATS module, which serves both NATS schemes."""

from kosha.notify.targets.nats import NatsTarget, make

__all__ = ["NatsTarget", "make"]
