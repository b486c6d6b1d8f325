"""Blob stores: immutable byte sequences named by id, written once, shared by reference.

`LocalBlobStore` keeps each blob in a file under `DIR/blobs/<id[:2]>/<id>`. A writer streams into
a temporary file, hashing on the way; `commit` fsyncs it, renames it into place and fsyncs the
directory, so a blob is either whole and durable or absent. User input never reaches a path: blob
ids are generated here.

File errors become domain errors here (`kosha.store.faults`): a full disk is a 507, a read-only
or vanished directory a 503; the first full disk also gives back the space reserve.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import socket
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..overlap import Hasher, Lane
from . import writeback
from .faults import from_os_error
from .reserve import SpaceReserve

CHUNK = 1024 * 1024  # measured: see docs/benchmarks.md
WRITEBACK = 4 * CHUNK  # written bytes after which the disk is asked to start on them (writeback.py)


@dataclass
class BlobInfo:
    blob_id: str
    size: int
    md5: bytes
    hashers: list[Hasher] = field(default_factory=list)


class BlobWriter(Protocol):
    blob_id: str
    size: int

    async def write(self, data: bytes) -> None: ...
    async def commit(self) -> BlobInfo: ...
    async def abort(self) -> None: ...


class BlobStore(Protocol):
    """What the services use; LocalBlobStore here, S3BlobStore in blobs_s3.py."""
    def check_room(self) -> None: ...
    def probe(self) -> None: ...
    def open_writer(self, hashers: Iterable[Hasher] = ()) -> BlobWriter: ...
    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...
    async def open_read(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader: ...
    async def delete(self, blob_ids: Iterable[str]) -> None: ...
    def delete_sync(self, blob_ids: Iterable[str]) -> None: ...
    def list_ids(self) -> Iterable[tuple[str, float]]: ...
    def clean_tmp(self, older_than: float) -> int: ...
    def read_mark(self, name: str) -> str | None: ...
    def write_mark(self, name: str, text: str) -> None: ...


_io = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kosha-blob-io")


async def _in_thread(fn, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(_io, fn, *args)


class ChunkedBlobWriter:
    """What every blob writer shares: a generated id, the size and hashes, and the body kept by
    reference (never copied on the event loop) until CHUNK bytes are pending, then handed to
    `_consume` in one batch, which starts work on it in the I/O thread while the loop receives
    the next batch (the lane keeps one job in flight). Only immutable bytes (or views of them)
    can be kept; other buffers are copied."""

    def __init__(self, hashers: Iterable[Hasher]) -> None:
        self.blob_id = uuid.uuid4().hex
        self.size = 0
        self._md5 = hashlib.md5()
        self._hashers = list(hashers)
        self._pending: list[bytes | memoryview] = []
        self._pending_size = 0
        self._lane = Lane(_io)

    async def write(self, data: bytes | memoryview) -> None:
        if not _immutable(data):
            data = bytes(data)
        self._pending.append(data)
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= CHUNK:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            chunks, self._pending, self._pending_size = self._pending, [], 0
            await self._consume(chunks)

    async def _consume(self, chunks: list[bytes | memoryview]) -> None:
        raise NotImplementedError

    def _hash(self, chunks: list[bytes | memoryview]) -> None:
        for chunk in chunks:
            self._md5.update(chunk)
            for h in self._hashers:
                h.update(chunk)

    def _info(self) -> BlobInfo:
        return BlobInfo(self.blob_id, self.size, self._md5.digest(), self._hashers)


class LocalBlobWriter(ChunkedBlobWriter):
    """Each batch is hashed and written (one writev) in the I/O thread; every WRITEBACK bytes
    the disk is asked to start writing them, so that the fsync at commit has only the tail left."""

    def __init__(self, store: LocalBlobStore, hashers: Iterable[Hasher]) -> None:
        super().__init__(hashers)
        self.store = store
        self._tmp = store.tmp_dir / temp_name(self.blob_id)
        self._fd: int | None = None
        self._written = 0       # bytes in the file (the I/O thread's count)
        self._flushed = 0       # bytes before this offset were handed to start_writeback

    async def _consume(self, chunks: list[bytes | memoryview]) -> None:
        await self._lane.submit(self._write_chunks, chunks)

    def _write_chunks(self, chunks: list[bytes | memoryview]) -> None:
        try:
            fd = self._open()
            self._hash(chunks)
            self._written += _write_all(fd, chunks)
        except OSError as exc:
            raise self.store.fault(exc) from exc
        if self._written - self._flushed >= WRITEBACK:
            writeback.start_writeback(fd, self._flushed, self._written - self._flushed)
            self._flushed = self._written

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return self._fd

    async def commit(self) -> BlobInfo:
        await self._flush()
        await self._lane.drain()
        await _in_thread(self._make_durable)
        return self._info()

    def _make_durable(self) -> None:
        """fsync, rename into place, fsync the directory: the blob is whole and durable, or absent."""
        try:
            fd = self._open()
            os.fsync(fd)
            os.close(fd)
            self._fd = None
            final = self.store.path(self.blob_id)
            os.rename(self._tmp, final)
            self.store.fsync_dir(final.parent)
        except OSError as exc:
            raise self.store.fault(exc) from exc

    async def abort(self) -> None:
        await self._lane.settle()
        await _in_thread(self._discard)

    def _discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self._tmp)
        except OSError:  # gone, or a read-only disk: garbage collection removes what is left
            pass


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def temp_name(blob_id: str) -> str:
    """A write's temporary file: the blob id, then this host and process (see clean_dead_writers)."""
    return f"{blob_id}.{_HOST}.{os.getpid()}"


def temp_owner(name: str) -> tuple[str, int] | None:
    """(host, pid) of the writer of a temporary file, if its name says."""
    parts = name.split(".")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user: alive
        return True
    return True


def _immutable(data: bytes | memoryview) -> bool:
    """bytes, or a view of bytes: safe to keep by reference until written."""
    return type(data) is bytes or (type(data) is memoryview and type(data.obj) is bytes)


def _write_all(fd: int, chunks: list[bytes | memoryview]) -> int:
    """Write every chunk with writev (no joining copy), resuming after partial writes; the
    number of bytes written."""
    views = [memoryview(c) for c in chunks if c]
    total = sum(v.nbytes for v in views)
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while written:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0] = views[0][written:]
                written = 0
    return total


_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


class BlobReader(Protocol):
    """An opened blob's bytes; `aclose` frees what holds it open, read to the end or not."""
    def __aiter__(self) -> AsyncIterator[bytes]: ...
    async def aclose(self) -> None: ...


async def read_opened(open_read: Callable[[str, int, int | None], Awaitable[BlobReader]],
                      blob_id: str, start: int, end: int | None) -> AsyncIterator[bytes]:
    """A blob's bytes, opened when first asked for, closed when done."""
    reader = await open_read(blob_id, start, end)
    try:
        async for chunk in reader:
            yield chunk
    finally:
        await reader.aclose()


class FileReader:
    """A range of an open blob file, closed by `aclose` or, if never read, when dropped."""

    def __init__(self, store: LocalBlobStore, fd: int, start: int, end: int | None) -> None:
        self._close = weakref.finalize(self, os.close, fd)
        self._chunks = _pread_chunks(store, fd, start, end)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()
        self._close()


async def _pread_chunks(store: LocalBlobStore, fd: int, start: int,
                        end: int | None) -> AsyncIterator[bytes]:
    pos = start
    while end is None or pos < end:
        want = CHUNK if end is None else min(CHUNK, end - pos)
        try:
            chunk = await _in_thread(os.pread, fd, want, pos)
        except OSError as exc:
            raise store.fault(exc) from exc
        if not chunk:
            break
        pos += len(chunk)
        yield chunk


class LocalBlobStore:
    def __init__(self, root: Path, reserve: SpaceReserve | None = None) -> None:
        self.root = root
        self.reserve = reserve
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        for i in range(256):
            (root / f"{i:02x}").mkdir(exist_ok=True)
        self._dir_fds: dict[Path, int] = {}

    def path(self, blob_id: str) -> Path:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise ValueError("malformed blob id")
        return self.root / blob_id[:2] / blob_id

    def fsync_dir(self, directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def fault(self, exc: OSError) -> BaseException:
        """The domain error for a failed file operation (the OSError itself if it is a bug)."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and self.reserve is not None:
            self.reserve.release()
        return from_os_error(exc, self.root) or exc

    def probe(self) -> None:
        """Raise the domain error if a blob cannot be written now (read-only, gone, full)."""
        try:
            if os.statvfs(self.root).f_flag & os.ST_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            probe = self.tmp_dir / f"probe-{uuid.uuid4().hex}"
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            raise self.fault(exc) from exc

    def check_room(self) -> None:
        """Refuse a write that adds bytes while the disk is full (see SpaceReserve)."""
        if self.reserve is not None:
            self.reserve.check_room()

    def open_writer(self, hashers: Iterable[Hasher] = ()) -> LocalBlobWriter:
        return LocalBlobWriter(self, hashers)

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive) of a blob, in 1 MiB chunks read off the event loop."""
        return read_opened(self.open_read, blob_id, start, end)

    async def open_read(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        """Open the blob now, read it later: an open file stays readable after the blob is
        unlinked (an overwrite or a delete committed meanwhile). FileNotFoundError if it is gone."""
        try:
            fd = await _in_thread(os.open, self.path(blob_id), os.O_RDONLY)
        except OSError as exc:
            raise self.fault(exc) from exc
        return FileReader(self, fd, start, end)

    async def delete(self, blob_ids: Iterable[str]) -> None:
        ids = list(blob_ids)
        if ids:
            await _in_thread(self.delete_sync, ids)

    def delete_sync(self, blob_ids: Iterable[str]) -> None:
        for blob_id in blob_ids:
            try:
                os.unlink(self.path(blob_id))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self.fault(exc) from exc

    def list_ids(self) -> Iterable[tuple[str, float]]:
        """Every stored blob with its modification time, for garbage collection."""
        for sub in self.root.iterdir():
            if sub.name == "tmp" or not sub.is_dir():
                continue
            for entry in os.scandir(sub):
                yield entry.name, entry.stat().st_mtime

    def clean_dead_writers(self) -> int:
        """Remove temporary files whose writer was a process of this host that is gone (killed
        mid-upload): their names carry host and pid, so this need not wait for `clean_tmp`'s
        age. Files of other hosts (a shared filesystem) are left to their own host, and to age."""
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            owner = temp_owner(entry.name)
            if owner is not None and owner[0] == _HOST and not _alive(owner[1]):
                try:
                    os.unlink(entry.path)
                    removed += 1
                except FileNotFoundError:  # another process of this host removed it first
                    pass
        return removed

    def read_mark(self, name: str) -> str | None:
        """A small text file beside the blob directories (blob_owner.py), or None."""
        try:
            return (self.root / name).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def write_mark(self, name: str, text: str) -> None:
        tmp = self.tmp_dir / f"{name}-{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.root / name)
        self.fsync_dir(self.root)

    def clean_tmp(self, older_than: float) -> int:
        """Remove temporary files of writes that never finished (a crash mid-upload)."""
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            if entry.stat().st_mtime < older_than:
                os.unlink(entry.path)
                removed += 1
        return removed
