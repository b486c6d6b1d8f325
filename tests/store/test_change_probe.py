"""The change probe of a SQLite file (kosha/store/change_probe.py): its token moves with every
commit of any connection, and its own connection answers the polled reads (probe_scalar)."""

from __future__ import annotations

import sqlite3
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
