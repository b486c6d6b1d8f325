"""The store layer's translation of real database and file errors into domain errors
(kosha/store/faults.py): faults a client can wait out are 503, a full disk 507, bugs stay bugs."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from kosha.errors import InsufficientStorage, Unavailable
from kosha.store.faults import from_db_error, from_os_error


def _db_error(url: str, statement: str, **connect_args: object) -> DBAPIError:
    engine = create_engine(url, connect_args=connect_args)
    with pytest.raises(DBAPIError) as info, engine.connect() as conn:
        conn.execute(text(statement))
    return info.value


def test_a_locked_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        error = _db_error(f"sqlite:///{path}", "INSERT INTO t VALUES (1)", timeout=0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    fault = from_db_error(error)
    assert isinstance(fault, Unavailable) and fault.retry_after > 0


def test_a_missing_table_is_a_bug_not_a_fault(tmp_path: Path) -> None:
    error = _db_error(f"sqlite:///{tmp_path / 'db.sqlite'}", "SELECT * FROM nothing_here")
    assert from_db_error(error) is None


def test_no_space_is_insufficient_storage(tmp_path: Path) -> None:
    fault = from_os_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    assert isinstance(fault, InsufficientStorage) and fault.status == 507


def test_a_missing_file_under_a_present_directory_is_a_bug(tmp_path: Path) -> None:
    assert from_os_error(OSError(errno.ENOENT, "No such file or directory"), tmp_path) is None


def test_a_missing_file_under_a_vanished_directory_is_unavailable(tmp_path: Path) -> None:
    fault = from_os_error(OSError(errno.ENOENT, "No such file or directory"), tmp_path / "gone")
    assert isinstance(fault, Unavailable)
