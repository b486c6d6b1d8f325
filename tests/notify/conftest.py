"""Fixtures of the notification tests: a webhook receiver, and a server that delivers to it.

`notify_server` is one server for the module, started with one webhook target (`hook`) that
points at `receiver`; tests create their own buckets, so they never see each other's events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.notify.receiver import Receiver, free_port

REGION = "In-Bangalore-1"
HOOK_ARN = f"arn:kosha:sqs:{REGION}:hook:webhook"


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
