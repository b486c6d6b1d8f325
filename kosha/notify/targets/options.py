"""The parts of an operator's target URL that every broker kind reads the same way.

A target URL carries the broker's address and credentials in the usual places and Kosha's own
options (stream, exchange, table, ...) in its query. The broker client libraries each parse URLs
their own way, so the kinds split the two here and give the library only what it understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit


@dataclass(frozen=True)
class TargetUrl:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    path: str
    options: dict[str, str]

    def secrets(self) -> list[str]:
        """What must never appear in a log line or an error message."""
        if not self.password:
            return []
        return sorted({self.password, quote(self.password, safe="")}, key=len, reverse=True)

    def flag(self, name: str) -> bool:
        return self.options.get(name, "").lower() in ("1", "true", "yes", "on")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.options.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"target option {name}={raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"target option {name}={value} is outside {low}..{high}")
        return value

    def required(self, name: str) -> str:
        value = self.options.get(name, "")
        if not value:
            raise ValueError(f"{self.scheme} target needs ?{name}=")
        return value


def parse(url: str, default_port: int) -> TargetUrl:
    """Split a target URL; a value that cannot be right is refused at startup, not at delivery."""
    parts = urlsplit(url)
    if parts.fragment or url.endswith("#"):
        raise ValueError(f"{parts.scheme} target URL has a '#': percent-encode it (%23)")
    if not parts.hostname:
        raise ValueError(f"{parts.scheme} target URL has no host")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError(f"{parts.scheme} target URL has an invalid port") from None
    options: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in options:
            raise ValueError(f"target option {name} is given twice")
        options[name] = value
    return TargetUrl(
        scheme=parts.scheme.lower(),
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        path=unquote(parts.path),
        options=options,
    )


def known_options(url: TargetUrl, allowed: set[str]) -> None:
    """A misspelt option would silently do nothing; refuse it instead."""
    unknown = sorted(set(url.options) - allowed)
    if unknown:
        raise ValueError(f"{url.scheme} target does not know the option(s) {', '.join(unknown)}")
