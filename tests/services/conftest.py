"""`live`: an in-process Kosha on a fresh data directory (tests/services/inprocess.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .inprocess import Live


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    instance = Live(tmp_path / "data")
    yield instance
    instance.close()
