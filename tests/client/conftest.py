"""Fixtures for the `kosha` client tests (see cli_helpers): `cli`, `cli_for`, `bucket`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .cli_helpers import API, Cli, new_key


@pytest.fixture
def cli_for(server: Any, tmp_path: Path) -> Callable[[Any], Cli]:
    """`cli_for(client)`: a command signed in (by KOSHA_* variables) as a new key of client's
    user; `own_key=True` uses the client's key itself (members may not create keys)."""
    def make(client: Any, own_key: bool = False) -> Cli:
        access_key, secret_key = ((client.access_key, client.secret_key) if own_key
                                  else new_key(client))
        home = tmp_path / f"home-{uuid.uuid4().hex[:6]}"
        home.mkdir()
        return Cli(home, {"KOSHA_ENDPOINT": server.kos_url, "KOSHA_ACCESS_KEY": access_key,
                          "KOSHA_SECRET_KEY": secret_key})
    return make


@pytest.fixture
def cli(cli_for: Callable[[Any], Cli], account: Any) -> Cli:
    return cli_for(account)


@pytest.fixture
def bucket(account: Any) -> str:
    name = f"c-{uuid.uuid4().hex[:12]}"
    response = account.post(f"{API}/buckets", json={"name": name})
    assert response.status_code == 201, response.text
    return name
