"""Fixtures of the notification tests: a webhook receiver, and a server that delivers to it.

`notify_server` is one server for the module, started with one webhook target (`hook`) that
points at `receiver`; tests create their own buckets, so they never see each other's events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.notify.helpers import s3_for
from tests.notify.receiver import Receiver, free_port


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    instance = Receiver(free_port()).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def notify_server(server_factory: Callable[..., Any], receiver: Receiver) -> Any:
    srv = server_factory("--notify-target", f"hook={receiver.url}?secret=s3cr3t")
    yield srv
    srv.stop()


@pytest.fixture
def admin(notify_server: Any) -> Iterator[Any]:
    """An admin of a fresh account on `notify_server`."""
    root = notify_server.operator()
    client = notify_server.new_user(root, notify_server.new_account(root), admin=True)
    yield client
    client.close()
    root.close()


@pytest.fixture
def s3(notify_server: Any, admin: Any) -> Any:
    return s3_for(notify_server, admin)


@pytest.fixture
def bucket(s3: Any) -> str:
    from tests.notify.helpers import bucket_name
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name
