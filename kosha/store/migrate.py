"""Schema migrations with Alembic, run programmatically at start-up (and by `kosha admin migrate`)."""

from __future__ import annotations

import logging
from pathlib import Path

logging.getLogger("alembic").setLevel(logging.WARNING)  # before import: it logs its plugins

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")
