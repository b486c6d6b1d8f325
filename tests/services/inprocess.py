"""An in-process Kosha on a temporary data directory, for service tests that need many cheap
operations (property tests, lifecycle scenarios) rather than HTTP round trips."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from kosha.config import Settings
from kosha.services.container import Kosha
from kosha.services.principal import Principal

T = TypeVar("T")
ADMIN = Principal(account_id="123456789012", kcid="kc-service-tests", is_admin=True)
_names = itertools.count()


class Live:
    def __init__(self, data_dir: Path) -> None:
        self.kosha = Kosha(Settings(data_dir=data_dir))
        self.kosha.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one service call to completion (services are async; the tests are not)."""
        return asyncio.run(coro)

    def bucket(self, versioning: bool = False) -> str:
        name = f"svc-{next(_names)}-{id(self) % 10000}"
        self.run(self.kosha.buckets.create(ADMIN, name, versioning=versioning))
        return name

    def put(self, bucket: str, key: str, data: bytes = b"x") -> Any:
        return self.run(self.kosha.objects.put(ADMIN, bucket, key, _once(data)))

    def usage(self, bucket: str) -> tuple[int, int]:
        b = self.run(self.kosha.buckets.get(ADMIN, bucket))
        return b.used_capacity, b.object_count

    def close(self) -> None:
        self.kosha.close()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
