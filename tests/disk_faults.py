"""A small filesystem to fill up, for the storage-fault tests (tests/api, tests/s3).

`small_disk(tmp_path)` mounts an 8 MiB tmpfs (the suite runs as root) and skips the test when
mounting is not permitted (`disk` is the same as a fixture); `fill(disk)` writes a file until the disk has no byte left.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SIZE = "8m"
RESERVE = 1024 * 1024


@contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(where)], capture_output=True)
        for _ in range(50):
            if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)   # the server may still be exiting
        else:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """The small disk as a fixture (import it into a test module to use it)."""
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` (a file named filler); its path, to free it again."""
    path = disk / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    block = b"\0" * (64 * 1024)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    assert free_bytes(disk) == 0
    return path


def free_bytes(disk: Path) -> int:
    st = os.statvfs(disk)
    return st.f_bavail * st.f_frsize


def remount(disk: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)
