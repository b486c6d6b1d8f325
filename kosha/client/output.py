"""What a command hands its handlers: the client (made on first use), and how to answer.

Plain text for people; with `--json`, one JSON document on stdout, or one JSON object per
line for listings and transfers. Notices (resuming, warnings) go to stderr in both modes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from .errors import USAGE, ClientError

if TYPE_CHECKING:
    from .api import Api

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            from .api import Api
            from .config import load_profile
            self._api = Api(load_profile(getattr(self.args, "profile", None)),
                            connections=max(16, 2 * getattr(self.args, "parallel", 4) + 4))
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

    def document(self, value: Any, text: str | None = None) -> None:
        """The command's one answer: `value` as JSON, or `text` for people."""
        if self.json:
            print(json.dumps(value, default=str), flush=True)
        elif text is not None:
            print(text, flush=True)

    def line(self, value: dict[str, Any], text: str | None = None) -> None:
        """One item of a listing or a transfer."""
        if self.json:
            sys.stdout.write(json.dumps(value, default=str) + "\n")
        elif text is not None:
            sys.stdout.write(text + "\n")

    @staticmethod
    def notice(text: str) -> None:
        print(f"kosha: {text}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    """`20M`, `1.5GiB`, `65536`: bytes (K, M, G, T are powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64M, 1G, 65536)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


MAX_PARALLEL = 64


def parse_parallel(text: str) -> int:
    """`--parallel`: 1 to 64 (each is a thread and a connection; more only queues at the server)."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PARALLEL):
        raise argparse.ArgumentTypeError(f"not a number from 1 to {MAX_PARALLEL}: {text!r}")
    return int(text)


def parse_duration(text: str) -> int:
    """`3600`, `90m`, `1h`, `7d`: seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 3600, 1h, 7d)")
    return int(match.group(1)) * _SECONDS[match.group(2).lower()]


def confirm(question: str, force: bool) -> None:
    """Go ahead if forced or if the person at the terminal says yes; refuse otherwise."""
    if force:
        return
    if not sys.stdin.isatty():
        raise ClientError(f"{question} needs confirmation and no terminal is attached",
                          "add --force to do it without asking", USAGE)
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise ClientError("cancelled", "nothing was changed", USAGE)
