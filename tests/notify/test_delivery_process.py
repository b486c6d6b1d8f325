"""Delivery runs in a process of its own, kept by the server: killed, it is restarted and
nothing is lost; stopped with the server; its counters still reach /metrics."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.notify.helpers import watched_bucket
from tests.notify.receiver import Receiver, free_port

BURST = 600
MODULE = b"kosha.notify.process"


@pytest.fixture
def receiver_alone() -> Any:
    instance = Receiver(free_port()).start()
    yield instance
    instance.stop()


def _deliverers(parent: int) -> list[int]:
    """The delivery processes among `parent`'s children (of any of its threads)."""
    pids = []
    for task in os.listdir(f"/proc/{parent}/task"):
        try:
            with open(f"/proc/{parent}/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except FileNotFoundError:
            continue
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if MODULE in f.read():
                    found.append(pid)
        except FileNotFoundError:
            continue
    return found


def _wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within the time allowed")


def _keys(receiver: Receiver, bucket: str) -> set[str]:
    return {r["s3"]["object"]["key"] for r in receiver.records()
            if r["s3"]["bucket"]["name"] == bucket}


def test_the_server_delivers_from_one_child_process(start_server: Any,
                                                    receiver_alone: Receiver) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}")
    assert len(_wait_for(lambda: _deliverers(srv.process.pid))) == 1


def _niceness(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


@pytest.mark.parametrize("flags, steps", [((), 10), (("--notify-nice", "3"), 3)],
                         ids=["ten-steps-by-default", "as-notify-nice-asks"])
def test_the_delivery_process_runs_below_the_server_by_its_niceness_steps(
        start_server: Any, receiver_alone: Receiver, flags: tuple[str, ...], steps: int) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}", *flags)
    deliverer = _wait_for(lambda: _deliverers(srv.process.pid))[0]
    expected = min(19, _niceness(srv.process.pid) + steps)
    assert _wait_for(lambda: _niceness(deliverer) == expected, timeout=10)


def test_a_delivery_process_killed_mid_burst_is_restarted_and_loses_nothing(
        start_server: Any, receiver_alone: Receiver) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}", "--lease-seconds", "3")
    s3, bucket = watched_bucket(srv)
    first = _wait_for(lambda: _deliverers(srv.process.pid))[0]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(s3.put_object, Bucket=bucket, Key=f"k{i:04d}", Body=b"x")
                   for i in range(BURST)]
        _wait_for(lambda: len(_keys(receiver_alone, bucket)) >= BURST // 4)
        os.kill(first, signal.SIGKILL)
        for future in futures:
            future.result()
    later = _wait_for(lambda: [p for p in _deliverers(srv.process.pid) if p != first])
    assert len(later) == 1
    receiver_alone.wait_for(lambda _r: len(_keys(receiver_alone, bucket)) >= BURST, timeout=60)
    assert _keys(receiver_alone, bucket) == {f"k{i:04d}" for i in range(BURST)}


def test_stopping_the_server_stops_its_delivery_process(start_server: Any,
                                                        receiver_alone: Receiver) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}")
    child = _wait_for(lambda: _deliverers(srv.process.pid))[0]
    srv.stop()
    _wait_for(lambda: _ended(child), timeout=15)


def test_a_delivery_process_whose_server_was_killed_stops(start_server: Any,
                                                          receiver_alone: Receiver) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}")
    child = _wait_for(lambda: _deliverers(srv.process.pid))[0]
    srv.kill()
    _wait_for(lambda: _ended(child), timeout=15)


def _ended(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("workers", ["1", "2"])
def test_delivery_counters_of_the_delivery_process_are_in_metrics(
        start_server: Any, receiver_alone: Receiver, workers: str) -> None:
    srv = start_server("--notify-target", f"hook={receiver_alone.url}", "--workers", workers)
    s3, bucket = watched_bucket(srv)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"m{i}", Body=b"x")
    receiver_alone.wait_for(lambda _r: len(_keys(receiver_alone, bucket)) >= 3)
    assert _wait_for(lambda: _scrape_shows(srv.kos_url, [
        'kosha_notify_delivered_total{target="hook"} 3.0',
        'kosha_notify_backlog{target="hook"} 0.0']), timeout=10)


def _scrape_shows(url: str, lines: list[str]) -> bool:
    metrics = httpx.get(f"{url}/metrics").text.splitlines()
    return all(line in metrics for line in lines)
