"""The local blob writer hashes and writes one MiB in its thread while the next is received:
the bytes still arrive whole and in order, and a failure leaves nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from kosha.errors import InsufficientStorage
from kosha.store.blobs import CHUNK, LocalBlobStore


class FailingHasher:
    """Raises on its n-th update, as a full disk would in the middle of a write."""

    def __init__(self, n: int) -> None:
        self.left = n

    def update(self, data: bytes) -> None:
        self.left -= 1
        if self.left == 0:
            raise OSError(28, "No space left on device")


async def write_in_pieces(writer, data: bytes, size: int) -> None:  # type: ignore[no-untyped-def]
    view = memoryview(data)
    for i in range(0, len(data), size):
        await writer.write(view[i:i + size])


@pytest.mark.parametrize("piece", [1000, 65536 + 7, CHUNK, 3 * CHUNK + 1])
def test_a_body_of_many_chunks_is_stored_whole_and_in_order(tmp_path: Path, piece: int) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(5 * CHUNK + 12345)

    async def put():  # type: ignore[no-untyped-def]
        writer = store.open_writer()
        await write_in_pieces(writer, data, piece)
        return await writer.commit()

    info = asyncio.run(put())
    assert info.size == len(data) and info.md5 == hashlib.md5(data).digest()
    assert store.path(info.blob_id).read_bytes() == data


def test_a_failure_in_the_writer_thread_leaves_no_file_behind(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(6 * CHUNK)

    async def put() -> None:
        writer = store.open_writer([FailingHasher(3)])
        try:
            await write_in_pieces(writer, data, 65536)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise

    with pytest.raises(InsufficientStorage):
        asyncio.run(put())
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.list_ids()) == []


class SlowHasher:
    """Takes its time over the first MiB, so that the write is still in flight."""

    def __init__(self) -> None:
        self.finished = False

    def update(self, data: bytes) -> None:
        if not self.finished:
            time.sleep(0.3)
            self.finished = True


def test_abort_waits_for_the_write_in_flight_before_removing_the_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    slow = SlowHasher()

    async def put_then_abort() -> bool:
        writer = store.open_writer([slow])
        await writer.write(os.urandom(CHUNK))   # handed to the thread, not waited for
        await writer.abort()
        return slow.finished

    assert asyncio.run(put_then_abort()) is True
    assert list(store.tmp_dir.iterdir()) == []
