"""The data directory is private to the server's user: it holds secrets and object bytes.

The server runs with umask 077, so everything it creates is 0600 (files) or 0700 (directories);
`make_private` brings a data directory created by an older version (0755 / 0644) to the same.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

UMASK = 0o077


def set_umask() -> None:
    os.umask(UMASK)


def make_private(data_dir: Path) -> None:
    """chmod 0700 every directory and 0600 every file the store keeps under `data_dir`.

    The walk through the blob tree happens once, on a directory an older version left open: a
    data directory that is already 0700 was made by a server running under umask 077, and a
    start must not cost a pass over millions of blob files. Its top-level files (the database,
    its WAL, the keys) are checked at every start.
    """
    already_private = _is_private(data_dir)
    _chmod(data_dir, 0o700)
    for entry in os.scandir(data_dir):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if not already_private:
                _private_tree(Path(entry.path))
        else:
            _chmod(Path(entry.path), 0o600)


def _is_private(path: Path) -> bool:
    try:
        return not stat.S_IMODE(os.lstat(path).st_mode) & 0o077
    except FileNotFoundError:
        return True


def _private_tree(root: Path) -> None:
    _chmod(root, 0o700)
    for entry in os.scandir(root):
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            _private_tree(Path(entry.path))
        else:
            _chmod(Path(entry.path), 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(os.lstat(path).st_mode)
        if current & ~mode:   # only ever remove permissions, never add (an operator's 0400 stays)
            os.chmod(path, current & mode)
    except FileNotFoundError:
        pass
