"""A big download as parallel ranged requests, written in place into `<dest>.kosha-partial`.

The partial file is made its full size first; each range is one `Range: bytes=a-b` request
whose chunks are written at their offsets (`os.pwrite`), `parallel` ranges in flight. The
transfer state records the object's ETag, the range size and the ranges complete, so running
the command again fetches only the others. Every answer must carry the ETag the download
began with: an object replaced meanwhile stops the download, and the next run starts over.
A range is recorded once its bytes are written (not fsynced): resuming survives the command
being killed, not the machine losing power mid-download.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from .config import read_json, write_private
from .errors import ClientError
from .progress import human
from .transfer import MAX_PARTS, MIN_PART, PARTIAL, Download, Pipeline, Transfer, state_path


def range_size(t: Transfer, size: int) -> int:
    """Ranges small enough that `parallel` of them share the object, at most `part_size`."""
    return max(MIN_PART, -(-size // MAX_PARTS), min(t.part_size, -(-size // max(1, t.parallel))))


class RangeLedger:
    """Which ranges of the partial file are complete, kept in the transfer state."""

    def __init__(self, path: Path, identity: dict[str, Any], done: set[int]) -> None:
        self.path, self.identity, self.done = path, identity, done
        self._lock = threading.Lock()

    def record(self, index: int) -> None:
        with self._lock:
            self.done.add(index)
            write_private(self.path, {**self.identity, "done": sorted(self.done)})


def _resumable(state: dict[str, Any], item: Download, partial: Path) -> bool:
    return (state.get("etag") == item.etag and state.get("size") == item.size
            and isinstance(state.get("range_size"), int) and state["range_size"] >= MIN_PART
            and isinstance(state.get("done"), list) and partial.exists())


def download_ranges(t: Transfer, item: Download) -> None:
    """`item` in `t.parallel` concurrent ranges; resumes the ranges an earlier run completed."""
    partial = item.path.with_name(item.path.name + PARTIAL)
    item.path.parent.mkdir(parents=True, exist_ok=True)
    state_file = state_path("down", t.api.profile.endpoint, item.remote.bucket, item.remote.key,
                            str(item.path.resolve()))
    state = read_json(state_file)
    if _resumable(state, item, partial):
        step, done = state["range_size"], {int(i) for i in state["done"]}
    else:
        step, done = range_size(t, item.size), set()
        partial.unlink(missing_ok=True)
    count = -(-item.size // step)
    identity = {"etag": item.etag, "size": item.size, "range_size": step,
                "source": str(item.remote), "dest": str(item.path)}
    ledger = RangeLedger(state_file, identity, {i for i in done if 0 <= i < count})
    write_private(state_file, {**identity, "done": sorted(ledger.done)})
    resumed = sum(min(step, item.size - i * step) for i in ledger.done)
    if resumed:
        t.notice(f"resuming: {human(resumed)} of {human(item.size)} already downloaded")
    t.progress.advance(resumed)
    fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        os.ftruncate(fd, item.size)
        with Pipeline(t.parallel) as pipeline:
            for index in range(count):
                if index not in ledger.done:
                    pipeline.submit(_fetch, t, item, fd, index * step,
                                    min(item.size, (index + 1) * step), ledger, index)
    finally:
        os.close(fd)
    os.replace(partial, item.path)
    state_file.unlink(missing_ok=True)
    t.done({"action": "download", "source": str(item.remote), "destination": str(item.path),
            "size": item.size, "ranges": count, "resumedBytes": resumed})


def _fetch(t: Transfer, item: Download, fd: int, start: int, end: int, ledger: RangeLedger,
           index: int) -> None:
    response = t.api.open_download(item.remote.bucket, item.remote.key, start, end)
    try:
        if response.headers.get("etag") != item.etag:
            raise ClientError(f"{item.remote} changed while it was being downloaded",
                              "run the same command again to download it afresh")
        offset = start
        for chunk in t.counted(response.iter_raw()):
            if offset + len(chunk) > end:
                raise ClientError(f"{item.remote}: the server sent more than the range asked for",
                                  "run the same command again")
            _write_at(fd, chunk, offset)
            offset += len(chunk)
    finally:
        response.close()
    if offset != end:
        raise ClientError(f"{item.remote}: a range ended after {offset - start} of "
                          f"{end - start} bytes", "run the same command again to resume")
    ledger.record(index)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
