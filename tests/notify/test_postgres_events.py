"""The outbox on PostgreSQL: events recorded in the write's transaction and delivered in order,
including from two server processes writing into one database at once (the advisory lock that
keeps the worker from passing a row that commits late)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.notify.helpers import bucket_name, configure, s3_for
from tests.notify.receiver import Receiver, free_port
from tests.postgres_db import fresh_database



@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("kosha_notify") as url:
        yield url


@pytest.fixture
def hook() -> Iterator[Receiver]:
    instance = Receiver(free_port()).start()
    yield instance
    instance.stop()


def test_two_processes_on_postgresql_deliver_every_event(start_server: Any, pg_url: str,
                                                         hook: Receiver, tmp_path: Any) -> None:
    data = tmp_path / "shared"
    first = start_server("--database-url", pg_url, "--notify-target", f"hook={hook.url}",
                         data_dir=data)
    second = start_server("--database-url", pg_url, "--notify-target", f"hook={hook.url}",
                          data_dir=data)
    root = first.operator()
    admin = first.new_user(root, first.new_account(root), admin=True)
    name = bucket_name()
    s3_a, s3_b = s3_for(first, admin), s3_for(second, admin)
    s3_a.create_bucket(Bucket=name)
    configure(s3_a, name, ["s3:ObjectCreated:*"])
    keys = [f"k{i:03d}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: (s3_a if int(k[1:]) % 2 else s3_b).put_object(
            Bucket=name, Key=k, Body=b"x"), keys))

    def unique() -> dict[str, str]:
        return {r["s3"]["object"]["sequencer"]: r["s3"]["object"]["key"] for r in hook.records()
                if r["s3"]["bucket"]["name"] == name}
    hook.wait_for(lambda _r: len(unique()) >= len(keys), timeout=60)
    assert sorted(set(unique().values())) == keys
    root.close()
    admin.close()
