"""Space held back on the data directory's filesystem, so a full disk can still be emptied.

A delete needs a little space itself (SQLite appends to its write-ahead log before it can free
anything). A file of `size` bytes, allocated at start, is given back the first time the disk is
found full; from then on writes that add bytes are refused while free space is below `size`, so
that what the reserve freed stays for deletes. Once deletes have made room again the reserve is
taken back.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from .faults import disk_full

log = logging.getLogger("kosha.store")


class SpaceReserve:
    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        self.released = False
        self._lock = threading.Lock()

    def hold(self) -> None:
        """Allocate the reserve file (at start, and again once there is room)."""
        if self.size <= 0:
            return
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            except OSError:
                self.released = True
                return
            try:
                os.posix_fallocate(fd, 0, self.size)
                self.released = False
            except OSError as exc:  # not enough room now: keep trying when space comes back
                os.ftruncate(fd, 0)
                self.released = True
                log.warning("cannot hold %d bytes in reserve on the data directory: %s",
                            self.size, exc.strerror)
            finally:
                os.close(fd)

    def release(self) -> bool:
        """Give the reserve back to the filesystem; True if that freed anything."""
        if self.size <= 0:
            return False
        with self._lock:
            if self.released:
                return False
            self.released = True
            try:
                os.truncate(self.path, 0)
            except OSError:
                return False
        log.warning("the data directory's disk is full: released the %d-byte reserve so that "
                    "deletes can free space; writes are refused until there is room", self.size)
        return True

    def free_bytes(self) -> int:
        st = os.statvfs(self.path.parent)
        return st.f_bavail * st.f_frsize

    def check_room(self) -> None:
        """Refuse a write that adds bytes while the reserve is given back and not yet regained.

        Costs nothing while the reserve is held (the common case): one attribute read.
        """
        if not self.released:
            return
        if self.free_bytes() < 2 * self.size:
            raise disk_full("the space left is kept for deletes")
        self.hold()
        if self.released:
            raise disk_full("the space left is kept for deletes")


__all__ = ["SpaceReserve"]
