"""The one error a target raises when a batch was not delivered.

The delivery worker logs it and retries; broker libraries sometimes put the connection URL,
password included, into their messages, so the text is masked before it leaves the target.
"""

from __future__ import annotations


class DeliveryFailed(Exception):
    """The batch (or its tail) was not delivered; the worker retries from the first unsent one."""


def failed(kind: str, target_id: str, exc: BaseException, secrets: list[str]) -> DeliveryFailed:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    return DeliveryFailed(f"{kind} target {target_id}: {text}")
