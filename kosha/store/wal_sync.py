"""Answer a committed write only once the WAL that holds it is on disk, without making the
next commit wait for that sync.

With `synchronous=FULL` SQLite fsyncs the WAL inside every commit, and the one writer thread
could do nothing else meanwhile: 16 clients waited on one group commit at a time. So the writer
connection commits with `synchronous=NORMAL` (the commit appends its frames to the WAL, no
fsync; checkpoints still sync the WAL before and the database after, and the WAL header when
the file is reused) and hands the committed batch to this syncer thread, which fdatasyncs the
`-wal` file and only then answers the batch. Meanwhile the writer gathers and commits the
next batch, and its write turn (`write_turn`) is already released, so the syncs of two
processes writing one file overlap too.

Why one sync answers several batches: the WAL is append-only between checkpoints, and recovery
replays frames up to the first one whose checksum fails, so what is durable is always a prefix
of the commits. An fdatasync started after a batch committed covers that batch and every one
before it; a syncer still busy with one sync answers everything committed meanwhile with the
next one.

If the `-wal` file is gone, it was checkpointed (synced by SQLite) and removed with the last
connection; the database file is synced then, to be safe.

A failed sync is not retried ("fsyncgate": the kernel may have dropped the dirty pages and a
second fsync can succeed without writing them). The batches it covered hear the error, never a
success, and so does every later write: the database is failed until the process restarts.

The trade-off: a commit is visible to readers (of this process and others) from the moment it
commits, up to a sync before its writer is answered. A reader can see a row that a crash in that
window takes away; no acknowledged write is ever lost. What acts on the outside world because of
a row it read (the notification delivery) calls `Database.durable` first.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable

from ..errors import InsufficientStorage, KoshaError, Unavailable

Answer = Callable[[BaseException | None], None]


def sync_wal(database_path: str) -> None:
    """fdatasync the database's WAL (or, once it was checkpointed away, the database file)."""
    try:
        fd = os.open(database_path + "-wal", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = os.open(database_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def sync_failed(exc: OSError) -> KoshaError:
    """The error every caller of a write the failed sync covered (and every later one) hears."""
    detail = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientStorage(f"the storage is full ({detail}): the metadata database "
                                   "could not be made durable; the server must be restarted")
    return Unavailable(f"the metadata database could not be made durable ({detail}); "
                       "check the disk and restart the server")


class WalSyncer:
    """The thread that makes committed batches durable, then answers them, oldest first."""

    def __init__(self, sync: Callable[[], None]) -> None:
        self.sync = sync
        self.failed: KoshaError | None = None
        self._ready = threading.Condition()
        self._waiting: list[Answer] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="kosha-db-sync", daemon=True)
        self._thread.start()

    def submit(self, answer: Answer) -> None:
        """Call `answer(None)` once a sync started after now has finished, or `answer(error)`
        if it (or an earlier one) failed."""
        with self._ready:
            self._waiting.append(answer)
            self._ready.notify()

    def sync_now(self) -> None:
        """Make everything committed so far durable, in the calling thread; raises the
        database's failure, if it failed."""
        if self.failed is not None:
            raise self.failed
        try:
            self.sync()
        except OSError as exc:
            self.failed = sync_failed(exc)
            raise self.failed from exc

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closing:
                    self._ready.wait()
                if not self._waiting:
                    return
                taken, self._waiting = self._waiting, []
            error: BaseException | None
            try:
                self.sync_now()
                error = None
            except KoshaError as exc:
                error = exc
            for answer in taken:
                answer(error)

    def close(self) -> None:
        """Answer what is waiting, then stop."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout=10)
