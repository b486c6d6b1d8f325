"""Whose turn it is to write an SQLite file, across every process that writes it.

SQLite lets one connection write at a time. A connection that finds the write lock taken does
not wait for its release: its busy handler sleeps 1, 2, 5, 10 ms ... and tries again. With two
`kosha serve` workers on one file, each writer thread spent a quarter to half of its time in
those sleeps while the other's lock had long been released, and two workers wrote less than one
(`bench/workers.py`). So each writer first takes an exclusive `flock` on a file beside the
database: the kernel wakes the waiting process the moment the holder lets go, and meanwhile
its own queue grows into a larger group for one commit.

The turn is only a queue in front of the write lock, never what guards the data: a writer that
does not take it (an older Kosha, the sqlite3 shell) still meets SQLite's own lock and busy
timeout. The kernel drops a dead process's turn with its file descriptors (kill -9 included).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType

SUFFIX = "-writer.lock"


class WriteTurn:
    """An exclusive `flock` the writer thread holds while it gathers and commits one group."""

    def __init__(self, database_path: str) -> None:
        self.path = database_path + SUFFIX
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> WriteTurn:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def for_database(database_path: str | None) -> WriteTurn | None:
    """A turn for an SQLite file; None for an in-memory database (one connection, no rival)."""
    if not database_path or database_path == ":memory:":
        return None
    return WriteTurn(database_path)


def held(turn: WriteTurn | None) -> AbstractContextManager[object]:
    return turn if turn is not None else nullcontext()
