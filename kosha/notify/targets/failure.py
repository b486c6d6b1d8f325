"""The one error a target raises when a batch was not delivered.

The delivery worker logs it and retries; broker libraries sometimes put the connection URL,
password included, into their messages, so the text is masked before it leaves the target.
"""

from __future__ import annotations

import asyncio


class DeliveryFailed(Exception):
    """The batch (or its tail) was not delivered; the worker retries from the first unsent one.

    `delivered` is how many of the batch, from its start, the broker confirmed before the
    failure (0 when unknown): the worker moves its cursor past those, so fewer are sent twice."""

    def __init__(self, message: str, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


class PartlyDelivered(Exception):
    """Raised inside a target: the first `delivered` of the batch were confirmed, then `cause`."""

    def __init__(self, delivered: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.delivered = delivered
        self.cause = cause


def failed(kind: str, target_id: str, exc: BaseException, secrets: list[str]) -> DeliveryFailed:
    delivered = 0
    if isinstance(exc, PartlyDelivered):
        delivered, exc = exc.delivered, exc.cause
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    return DeliveryFailed(f"{kind} target {target_id}: {text}", delivered)


def confirmed_prefix(confirmations: list[asyncio.Future]) -> int:
    """How many confirmations, from the first, arrived successfully."""
    count = 0
    for confirmation in confirmations:
        if not confirmation.done() or confirmation.cancelled() or confirmation.exception() is not None:
            break
        count += 1
    return count


async def all_confirmed(publishes: list[asyncio.Future]) -> None:
    """Wait for every publish of a batch, sent concurrently; at the first failure, cancel the
    rest and raise PartlyDelivered with how many, from the first, the broker confirmed."""
    await asyncio.wait(publishes, return_when=asyncio.FIRST_EXCEPTION)
    failure = next((p.exception() for p in publishes if p.done() and p.exception()), None)
    if failure is not None:
        for publish in publishes:
            publish.cancel()
        raise PartlyDelivered(confirmed_prefix(publishes), failure)
