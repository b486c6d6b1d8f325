"""`kosha cp` of a big object to a local file: parallel ranged requests, resumable by range."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from .cli_helpers import Cli

MiB = 1024 * 1024


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as source:
        while chunk := source.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def _upload(cli: Cli, bucket: str, key: str, path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
        out.write(os.urandom(size % MiB))
    assert cli("cp", "--part-size", "8M", str(path), f"kos://{bucket}/{key}").code == 0
    return path


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _done_ranges(states: Path) -> int:
    for state in states.glob("down-*.json"):
        try:
            return len(json.loads(state.read_text()).get("done", []))
        except ValueError:   # being replaced at this moment
            return 0
    return 0


def test_a_big_object_comes_down_in_ranges_byte_for_byte(cli: Cli, bucket: str,
                                                        tmp_path: Path) -> None:
    source = _upload(cli, bucket, "big", tmp_path / "big", 12 * MiB + 123)
    result = cli("cp", "--json", "--part-size", "5M", "--parallel", "3", f"kos://{bucket}/big",
                 str(tmp_path / "copy"))
    assert result.code == 0, result.err
    download, summary = result.lines()
    assert download["ranges"] == 3 and download["resumedBytes"] == 0
    assert summary["bytesTransferred"] == 12 * MiB + 123
    assert _md5(tmp_path / "copy") == _md5(source)
    assert not (tmp_path / "copy.kosha-partial").exists()
    assert not any((cli.home / "cache" / "kosha" / "transfers").glob("down-*"))


def test_an_object_below_the_part_size_comes_down_in_one_stream(cli: Cli, bucket: str,
                                                                tmp_path: Path) -> None:
    _upload(cli, bucket, "mid", tmp_path / "mid", 6 * MiB)
    result = cli("cp", "--json", "--part-size", "8M", f"kos://{bucket}/mid", str(tmp_path / "c"))
    assert result.code == 0, result.err
    assert "ranges" not in result.lines()[0]


def test_an_interrupted_ranged_download_fetches_only_the_missing_ranges(
        cli: Cli, bucket: str, tmp_path: Path) -> None:
    source = _upload(cli, bucket, "200m", tmp_path / "200m", 200 * MiB)
    args = ("cp", "--json", "--part-size", "8M", f"kos://{bucket}/200m", str(tmp_path / "copy"))
    running = cli.popen(*args, "--limit-rate", "20M")
    states = cli.home / "cache" / "kosha" / "transfers"
    _wait_for(lambda: _done_ranges(states) >= 2)
    assert running.poll() is None, "the limited download should still be running"
    running.send_signal(signal.SIGKILL)
    running.wait()
    result = cli(*args)
    assert result.code == 0, result.err
    download, summary = result.lines()
    assert "already downloaded" in result.err
    assert download["resumedBytes"] >= 2 * 8 * MiB
    assert summary["bytesTransferred"] == 200 * MiB - download["resumedBytes"]
    assert _md5(tmp_path / "copy") == _md5(source)
    assert not any(states.glob("down-*"))


def test_an_object_replaced_since_the_interruption_downloads_afresh(cli: Cli, bucket: str,
                                                                   tmp_path: Path) -> None:
    _upload(cli, bucket, "obj", tmp_path / "first", 40 * MiB)
    args = ("cp", "--json", "--part-size", "5M", f"kos://{bucket}/obj", str(tmp_path / "copy"))
    running = cli.popen(*args, "--limit-rate", "10M")
    _wait_for(lambda: _done_ranges(cli.home / "cache" / "kosha" / "transfers") >= 1)
    running.send_signal(signal.SIGKILL)
    running.wait()
    replacement = _upload(cli, bucket, "obj", tmp_path / "second", 40 * MiB)
    result = cli(*args)
    assert result.code == 0, result.err
    assert result.lines()[0]["resumedBytes"] == 0
    assert _md5(tmp_path / "copy") == _md5(replacement)


def test_limit_rate_holds_a_ranged_download_back(cli: Cli, bucket: str, tmp_path: Path) -> None:
    _upload(cli, bucket, "f", tmp_path / "f", 12 * MiB)
    started = time.monotonic()
    result = cli("cp", "--part-size", "5M", "--limit-rate", "4M", f"kos://{bucket}/f",
                 str(tmp_path / "copy"))
    assert result.code == 0, result.err
    assert time.monotonic() - started > 2.0


def test_a_terminal_shows_the_ranged_downloads_progress(cli: Cli, bucket: str,
                                                        tmp_path: Path) -> None:
    _upload(cli, bucket, "f", tmp_path / "f", 12 * MiB)
    code, shown = cli.on_terminal("cp", "--part-size", "5M", "--limit-rate", "8M",
                                  f"kos://{bucket}/f", str(tmp_path / "copy"))
    assert code == 0
    assert "100%" in shown and "12.0 MiB/12.0 MiB" in shown


def test_a_partial_with_holes_is_never_taken_for_a_finished_stream(cli: Cli, bucket: str,
                                                                  tmp_path: Path) -> None:
    """A ranged download interrupted, then run again with a part size that makes it one
    stream: the full-length partial file is not mistaken for a complete one."""
    source = _upload(cli, bucket, "obj", tmp_path / "obj", 40 * MiB)
    target = str(tmp_path / "copy")
    running = cli.popen("cp", "--part-size", "5M", "--limit-rate", "10M", f"kos://{bucket}/obj",
                        target)
    _wait_for(lambda: _done_ranges(cli.home / "cache" / "kosha" / "transfers") >= 1)
    running.send_signal(signal.SIGKILL)
    running.wait()
    result = cli("cp", "--json", "--part-size", "64M", f"kos://{bucket}/obj", target)
    assert result.code == 0, result.err
    assert _md5(tmp_path / "copy") == _md5(source)
