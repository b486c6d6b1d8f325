"""The local blob writer asks the disk to start on what it has written every WRITEBACK bytes
(kosha/store/writeback.py), so that the fsync at commit waits for the tail only: each byte is
asked for once, in order, small blobs never, and the blob is stored whole all the same."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from kosha.store import writeback
from kosha.store.blobs import CHUNK, WRITEBACK, LocalBlobStore


def _put(store: LocalBlobStore, data: bytes, piece: int):  # type: ignore[no-untyped-def]
    async def put():  # type: ignore[no-untyped-def]
        writer = store.open_writer()
        view = memoryview(data)
        for i in range(0, len(data), piece):
            await writer.write(view[i:i + piece])
        return await writer.commit()
    return asyncio.run(put())


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The ranges the writer hands to start_writeback (and still hands on to the kernel)."""
    ranges: list[tuple[int, int]] = []
    real = writeback.start_writeback

    def record(fd: int, offset: int, length: int) -> bool:
        ranges.append((offset, length))
        return real(fd, offset, length)

    monkeypatch.setattr(writeback, "start_writeback", record)
    return ranges


@pytest.mark.parametrize("piece", [65536, 256000, 3 * CHUNK + 1])
def test_every_written_byte_is_handed_to_the_disk_once_and_in_order(
        tmp_path: Path, asked: list[tuple[int, int]], piece: int) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(5 * WRITEBACK + 12345)
    info = _put(store, data, piece)
    assert store.path(info.blob_id).read_bytes() == data
    assert info.md5 == hashlib.md5(data).digest()
    assert asked, "a blob of several WRITEBACK sizes was never handed to the disk early"
    end = 0
    for offset, length in asked:
        assert offset == end and length >= WRITEBACK
        end = offset + length
    assert end <= len(data)
    assert len(data) - end < WRITEBACK + CHUNK   # what the commit's fsync is left with


def test_a_blob_smaller_than_writeback_asks_nothing(tmp_path: Path,
                                                    asked: list[tuple[int, int]]) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(WRITEBACK - 1)
    info = _put(store, data, 4096)
    assert store.path(info.blob_id).read_bytes() == data
    assert asked == []


@pytest.mark.skipif(not writeback.AVAILABLE, reason="no sync_file_range here")
def test_the_kernel_takes_a_file_and_refuses_a_pipe_without_raising(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.write(fd, os.urandom(WRITEBACK))
        assert writeback.start_writeback(fd, 0, WRITEBACK) is True
    finally:
        os.close(fd)
    r, w = os.pipe()
    try:
        assert writeback.start_writeback(w, 0, 1) is False
    finally:
        os.close(r)
        os.close(w)
