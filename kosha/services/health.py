"""Readiness: can this process serve requests now? One check per thing a request depends on.

`/readyz` answers 503 while any check fails (a load balancer then sends traffic elsewhere) and
200 once every one passes again; nothing has to be restarted. Liveness (`/healthz`) is separate:
a server that cannot reach its database is alive and recovers by itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import KoshaError

if TYPE_CHECKING:
    from .container import Kosha

log = logging.getLogger("kosha")
CHECK_TIMEOUT = 3.0   # seconds; a database that takes longer is not ready


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(c["status"] == "ok" for c in self.checks.values())


class HealthService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha

    async def readiness(self) -> Readiness:
        database, blobs = await asyncio.gather(self._database(), self._blob_store())
        return Readiness({"database": database, "blobStore": blobs,
                          "freeSpace": await self._free_space()})

    async def _database(self) -> dict[str, Any]:
        try:
            await asyncio.wait_for(self.kosha.db.read(_select_one), CHECK_TIMEOUT)
        except asyncio.TimeoutError:
            return _failed(f"no answer within {CHECK_TIMEOUT:g} s")
        except KoshaError as exc:
            return _failed(exc.message)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready, never a 500
            log.warning("readiness: the database check failed: %s", type(exc).__name__)
            return _failed(f"database error ({type(exc).__name__})")
        return {"status": "ok"}

    async def _blob_store(self) -> dict[str, Any]:
        """Files (`--data` or `--blobs file://`) or an S3 cluster: whichever holds the blobs."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.kosha.blobs.probe)
        except KoshaError as exc:
            return _failed(exc.message)
        return {"status": "ok"}

    async def _free_space(self) -> dict[str, Any]:
        reserve = self.kosha.reserve
        try:
            await asyncio.get_running_loop().run_in_executor(None, reserve.check_room)
            free = reserve.free_bytes()
        except KoshaError as exc:
            return {**_failed(exc.message), "reserveBytes": reserve.size, "reserveHeld": False}
        except OSError as exc:
            return _failed(exc.strerror or str(exc))
        return {"status": "ok", "freeBytes": free, "reserveBytes": reserve.size,
                "reserveHeld": not reserve.released}


def _select_one(conn: Any) -> Any:
    return conn.exec_driver_sql("SELECT 1").scalar()


def _failed(message: str) -> dict[str, Any]:
    return {"status": "failed", "error": message}


