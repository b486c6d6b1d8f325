"""A progress bar on stderr (bytes, rate, ETA), drawn only when stderr is a terminal.

Scripts that capture stderr get no control characters; `advance` is thread-safe because every
part of a transfer runs on its own thread. `human` is also how listings print sizes.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
REDRAW_EVERY = 0.1


def human(size: float) -> str:
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, label: str, *, enabled: bool | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.label = label
        self.done = 0
        self.files = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._fixed = False
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if self.enabled and now - self._drawn >= REDRAW_EVERY:
                self._drawn = now
                self._draw(now)

    def grow(self, count: int) -> None:
        """More bytes to go (a recursive copy learns its total as it walks), unless the total
        was known beforehand (`expect`)."""
        with self._lock:
            if not self._fixed:
                self.total += count

    def expect(self, total: int) -> None:
        self.total, self._fixed = total, True

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _draw(self, now: float) -> None:
        rate = self.rate()
        width = shutil.get_terminal_size((80, 20)).columns
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        left = (self.total - self.done) / rate if rate > 0 else 0
        stats = (f" {fraction * 100:3.0f}% {human(self.done)}/{human(self.total)} "
                 f"{human(rate)}/s ETA {_clock(left)}")
        label = self.label if len(self.label) <= 30 else "…" + self.label[-29:]
        bar_width = max(5, width - len(label) - len(stats) - 5)
        filled = int(bar_width * fraction)
        bar = "#" * filled + "-" * (bar_width - filled)
        self.stream.write(f"\r{label} [{bar}]{stats}"[:width - 1] + "\x1b[K")
        self.stream.flush()

    def finish(self) -> None:
        """The final figures and a new line, if a bar was begun."""
        if self.enabled and (self._drawn or self.done):
            with self._lock:
                self._draw(time.monotonic())
                self.stream.write("\n")
                self.stream.flush()
