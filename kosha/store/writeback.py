"""Start writing a blob's pages to disk while the upload is still arriving.

A buffered write only dirties the page cache; the fsync at commit then writes the whole blob
and the client waits for it (about 0.1 s per 256 MiB on the reference machine, after the last
byte). Linux's `sync_file_range(SYNC_FILE_RANGE_WRITE)` starts the disk writing a range now
and returns, so by the commit only the last few MiB are left to flush
(docs/benchmarks.md, "Signed S3 PUTs (issue 8)").

This is no durability mechanism: it waits for nothing and flushes no metadata or device cache.
The commit's fsync, rename and directory fsync stay what make a blob durable. Where the call is
missing (not Linux, a libc without it) or refused (a filesystem that does not take it), it is
a no-op.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

SYNC_FILE_RANGE_WRITE = 2   # <fcntl.h>: start writeback of dirty pages in the range, do not wait


def _load() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn   # a ctypes call releases the GIL while it runs


_sync_file_range = _load()
AVAILABLE = _sync_file_range is not None


def start_writeback(fd: int, offset: int, length: int) -> bool:
    """Ask the kernel to start writing bytes [offset, offset + length) of `fd` to disk; True if
    it took the request. Never raises: an I/O error surfaces at the commit's fsync."""
    if _sync_file_range is None:
        return False
    return _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0
