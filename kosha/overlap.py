"""Work on a body's bytes beside the event loop: double buffering for big uploads.

The loop gathers the next batch of received pieces while one thread hashes (or hashes and
writes) the previous batch; hashlib, zlib.crc32 and the write syscall release the GIL on big
buffers, so on two cores receiving and hashing overlap. Measured in docs/benchmarks.md
("Signed S3 PUTs (issue 8)").
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Protocol

BATCH = 1024 * 1024  # bytes handed to the thread at once: a thread hop per MiB is negligible

_hash_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kosha-hash")


class Lane:
    """At most one job in flight, jobs in submission order (a writer's file, a running hash).

    `submit` waits for the previous job first, so a caller cannot run ahead by more than one
    batch (memory stays bounded) and a job's error surfaces at the next submit or `drain`.
    """

    __slots__ = ("_executor", "_inflight")

    def __init__(self, executor: Executor | None = None) -> None:
        self._executor = executor or _hash_pool
        self._inflight: Future[Any] | None = None

    async def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        await self.drain()
        self._inflight = self._executor.submit(fn, *args)

    async def drain(self) -> None:
        """Wait for the job in flight; re-raise its error."""
        job = self._inflight
        if job is not None:
            try:
                await asyncio.wrap_future(job)
            finally:
                if job.done():  # a cancelled wait leaves the running job for `settle`
                    self._inflight = None

    async def settle(self) -> None:
        """Wait for the job in flight, ignoring its error: before cleaning up after a failure."""
        try:
            await self.drain()
        except Exception:  # the failure being cleaned up already reports it
            pass


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


class Check:
    """One running digest and what to raise if it does not match at the end (the error, or
    what makes it: a small PUT need not pay for an exception it will not raise)."""

    __slots__ = ("hasher", "expected", "error")

    def __init__(self, hasher: Hasher, expected: bytes,
                 error: Exception | Callable[[], Exception]) -> None:
        self.hasher = hasher
        self.expected = expected
        self.error = error

    def verify(self) -> None:
        if not hmac.compare_digest(self.hasher.digest(), self.expected):
            error = self.error
            raise error() if callable(error) else error


def _update(hashers: Sequence[Hasher], pieces: Sequence[bytes | memoryview]) -> None:
    for piece in pieces:
        for h in hashers:
            h.update(piece)


class BatchedHashing:
    """Feed pieces to hashers a batch at a time in a thread; small bodies stay on the loop.

    `add` keeps references (the pieces must not change: bytes, or views of bytes); `finish`
    hashes what is left and waits, after which the hashers' digests are final.
    """

    __slots__ = ("_hashers", "_batch", "_size", "_lane")

    def __init__(self, hashers: Sequence[Hasher]) -> None:
        self._hashers = list(hashers)
        self._batch: list[bytes | memoryview] = []
        self._size = 0
        self._lane = Lane()

    async def add(self, piece: bytes | memoryview) -> None:
        self._batch.append(piece)
        self._size += len(piece)
        if self._size >= BATCH:
            batch, self._batch, self._size = self._batch, [], 0
            await self._lane.submit(_update, self._hashers, batch)

    async def finish(self) -> None:
        await self._lane.drain()
        batch, self._batch, self._size = self._batch, [], 0
        _update(self._hashers, batch)  # under a batch: cheaper here than a thread hop

    async def abandon(self) -> None:
        """Let a job in flight end (the hashers are not read again)."""
        await self._lane.settle()
