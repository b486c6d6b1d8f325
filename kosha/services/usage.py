"""What the buckets hold, for the operator's metrics (no per-caller authorisation: /metrics is
an operational endpoint, like /healthz)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..store import usage as sql

if TYPE_CHECKING:
    from .container import Kosha


async def bucket_usage(kosha: Kosha, limit: int) -> list[tuple[str, int, int]]:
    """(name, used bytes, objects) of at most `limit` buckets, the largest first."""
    return await kosha.db.read(sql.bucket_usage, limit)
