"""Has any connection committed to this SQLite file since? Read from the WAL index, not asked.

`PRAGMA data_version` answers it (the read memo asks before every hit: Database.read_memo), but
asking costs a statement: ~1.5 us alone and ~5 us inside a busy server, a twentieth of a small
GET. SQLite answers that pragma from the WAL-index header in the `-shm` file, which every
connection of every process maps (https://www.sqlite.org/walformat.html, "The WAL-Index
Header"): 48 bytes, kept twice, which every commit rewrites (its change counter and frame count
move) before the committer is answered. This probe maps the file and reads the header itself:
equal copies are a consistent token; copies that differ (a commit writing them right now) or a
header not initialised fall back to the pragma.

The probe reads SQLite's own mapping of the file (found in /proc/self/maps): it never opens the
`-shm` file, because closing any descriptor of a file drops every POSIX lock the process holds on
it, SQLite's among them, and another process would then take itself for the file's only user
and reset the WAL index under this one (https://www.sqlite.org/howtocorrupt.html, 2.2). SQLite
keeps that mapping while any connection of this process has the file open, and the probe's own
connection, which attaches to the WAL index before the mapping is looked up, stays open until
`close`. Where /proc is missing the pragma answers.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import threading
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
        self.header: ctypes.Array[ctypes.c_char] | None = None
        self._next_try = 0.0
        self._open = threading.Lock()   # no read of the mapping while `close` may unmap it

    def pragma(self) -> int:
        return int(self.cursor.execute("PRAGMA data_version").fetchone()[0])

    def token(self) -> Any:
        """Equal tokens: no commit in between (a different one may still mean no change)."""
        with self._open:
            header = self.header if self.header is not None else self._map()
            both = header.raw if header is not None else b""
        if both and both[:_HEADER] == both[_HEADER:] and both[_IS_INIT]:
            return both[:_HEADER]
        return self.pragma()

    def _map(self) -> ctypes.Array[ctypes.c_char] | None:
        """Find the header once this probe's own connection reads the file in WAL mode (so the
        mapping is SQLite's, kept while that connection is open); tried at most once a second."""
        now = time.monotonic()
        if now < self._next_try:
            return None
        self._next_try = now + RETRY_SECONDS
        try:
            self.pragma()    # a read: attaches this connection to the WAL index, if there is one
            if str(self.cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                return None
            address = _mapped_at(self.path + "-shm")
        except (OSError, ValueError, sqlite3.Error):
            return None      # the pragma answers meanwhile
        if address is not None:
            self.header = (ctypes.c_char * (2 * _HEADER)).from_address(address)
        return self.header

    def close(self) -> None:
        with self._open:
            self.header = None
            self.cursor.close()
            self.connection.close()


def _mapped_at(path: str) -> int | None:
    """Where this process has the start of `path` mapped (by SQLite), if it has."""
    wanted = os.path.realpath(path)
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.rstrip("\n").split(maxsplit=5)
            if len(fields) == 6 and fields[5] == wanted and int(fields[2], 16) == 0:
                start, end = (int(bound, 16) for bound in fields[0].split("-"))
                if end - start >= 2 * _HEADER:
                    return start
    return None
