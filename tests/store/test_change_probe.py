"""The change probe of a SQLite file (kosha/store/change_probe.py): its token moves with every
commit of any connection, and its own connection answers the polled reads (probe_scalar)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from kosha.store.change_probe import ChangeProbe
from kosha.store.database import Database


def test_the_token_moves_with_every_commit_of_another_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "k.db")
    probe = ChangeProbe(path)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        assert isinstance(probe.token(), int)          # not in WAL mode yet: the pragma
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (a)")
        probe._next_try = 0.0
        assert isinstance(probe.token(), bytes)        # the mapped WAL-index header
        for i in range(200):
            before = probe.token()
            assert probe.token() == before
            writer.execute("INSERT INTO t VALUES (?)", (i,))
            assert probe.token() != before, i
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # the WAL starts over
        before = probe.token()
        writer.execute("INSERT INTO t VALUES (0)")
        assert probe.token() != before
    finally:
        writer.close()
        probe.close()


def test_probe_scalar_reads_on_the_probe_connection(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        db.create_schema()
        assert db.probe_scalar("SELECT 41 + 1") == 42
    finally:
        db.close()



def _locked_elsewhere(shm: str) -> bool:
    """Asked from another process (fcntl F_GETLK): does any process hold a lock on the WAL
    index's DMS byte, which every SQLite process keeps while it has the file open?"""
    code = ("import fcntl, os, struct, sys; fd = os.open(sys.argv[1], os.O_RDONLY); "
            "want = struct.pack('hhqqi4x', fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0); "
            "got = fcntl.fcntl(fd, fcntl.F_GETLK, want); "
            "print(struct.unpack('hhqqi4x', got)[0] != fcntl.F_UNLCK)")
    out = subprocess.run([sys.executable, "-c", code, shm], check=True, timeout=30,
                         capture_output=True, text=True).stdout
    return out.strip() == "True"


def test_the_probe_leaves_sqlite_s_locks_on_the_wal_index_alone(tmp_path: Path) -> None:
    """POSIX locks belong to the process: closing any descriptor of the `-shm` file drops every
    lock SQLite holds on it. Another process would then take itself for the file's only user and
    reset the WAL index under this one (SIGBUS in a commit, or a corrupt database)."""
    path = str(tmp_path / "k.db")
    db = Database(f"sqlite:///{path}")
    try:
        db.create_schema()
        assert _locked_elsewhere(path + "-shm")
        db._probe._next_try = 0.0
        assert isinstance(db._probe.token(), bytes)   # the header is read
        assert _locked_elsewhere(path + "-shm")
    finally:
        db.close()
