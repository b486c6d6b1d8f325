"""A fresh PostgreSQL database per test (or module), on the machine's server, dropped after.

`KOSHA_TEST_POSTGRES_URL` names the server's admin database (default: the local `postgres`
database, trust auth). Where no server answers, the test is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ADMIN_URL = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def admin_connection() -> Any:
    """An autocommit connection to the admin database, or the test is skipped."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(ADMIN_URL.replace("postgresql+psycopg", "postgresql"),
                               autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {exc}")


@contextmanager
def fresh_database(prefix: str = "kosha_test") -> Iterator[str]:
    """The URL of a new, empty database; dropped (even with open connections) afterwards."""
    admin = admin_connection()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
