"""Has any connection committed to this SQLite file since? Read from the WAL index, not asked.

`PRAGMA data_version` answers it (the read memo asks before every hit: Database.read_memo), but
asking costs a statement: ~1.5 us alone and ~5 us inside a busy server, a twentieth of a small
GET. SQLite answers that pragma from the WAL-index header in the `-shm` file, which every
connection of every process maps (https://www.sqlite.org/walformat.html, "The WAL-Index
Header"): 48 bytes, kept twice, which every commit rewrites (its change counter and frame count
move) before the committer is answered. This probe maps the file and reads the header itself:
equal copies are a consistent token; copies that differ (a commit writing them right now) or a
header not initialised fall back to the pragma. The header is mapped only once the probe's own
connection reads the file in WAL mode, and that connection stays open for the life of the
process: the `-shm` file (removed only with the last connection) stays the one mapped.
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import time
from typing import Any

_HEADER = 48           # one copy of the WAL-index header
_IS_INIT = 12          # its isInit byte
RETRY_SECONDS = 1.0    # between attempts to map the header while the file is not in WAL mode


class ChangeProbe:
    """A token that changes whenever any connection commits to the database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                          timeout=30)
        self.cursor = self.connection.cursor()   # kept: 3x cheaper than one per question
        self.header: mmap.mmap | None = None
        self._next_try = 0.0

    def pragma(self) -> int:
        return int(self.cursor.execute("PRAGMA data_version").fetchone()[0])

    def token(self) -> Any:
        """Equal tokens: no commit in between (a different one may still mean no change)."""
        header = self.header
        if header is None:
            header = self._map()
        if header is not None:
            both = header[:2 * _HEADER]
            if both[:_HEADER] == both[_HEADER:] and both[_IS_INIT]:
                return both[:_HEADER]
        return self.pragma()

    def _map(self) -> mmap.mmap | None:
        """Map the header once this probe's own connection reads the file in WAL mode (so the
        `-shm` file it maps is the one SQLite keeps); tried at most once a second."""
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + RETRY_SECONDS
        try:
            self.pragma()    # a read: attaches this connection to the WAL index, if there is one
            if str(self.cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                return None
            fd = os.open(self.path + "-shm", os.O_RDONLY)
            try:
                self.header = mmap.mmap(fd, 2 * _HEADER, mmap.MAP_SHARED, mmap.PROT_READ)
            finally:
                os.close(fd)
        except (OSError, ValueError, sqlite3.Error):
            return None      # the pragma answers meanwhile
        return self.header

    def close(self) -> None:
        if self.header is not None:
            self.header.close()
            self.header = None
        self.cursor.close()
        self.connection.close()
