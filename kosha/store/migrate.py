"""Schema migrations with Alembic, run programmatically at start-up (and by `kosha admin migrate`).

Any number of processes may start together on an empty database: each upgrades under a lock,
so one creates the schema and the others, once it is theirs, find it up to date. PostgreSQL: a
session-level advisory lock held on a connection of its own around the upgrade. SQLite: an
exclusive `flock` on a file beside the database (the lock goes with the process if it dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logging.getLogger("alembic").setLevel(logging.WARNING)  # before import: it logs its plugins

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from .locks import MIGRATION  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    with migration_lock(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process of a deployment migrates at a time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:c, 0)"), {"c": MIGRATION})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:c, 0)"), {"c": MIGRATION})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}-migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # closing releases the lock
