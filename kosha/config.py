"""Server settings: every `kosha serve` flag, each also read from a `KOSHA_*` variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .notify.config import TargetSpec

DEFAULT_REGIONS = "In-Bangalore-1:tier-1,In-Hyderabad-1:tier-2"


@dataclass(frozen=True)
class Region:
    name: str
    tier: str


def parse_regions(text: str) -> tuple[Region, ...]:
    """`name:tier,name:tier` (tier defaults to `tier-1`)."""
    regions = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, tier = item.partition(":")
        regions.append(Region(name.strip(), tier.strip() or "tier-1"))
    if not regions:
        raise ValueError("at least one region is required")
    return tuple(regions)


def access_log_setting(text: str) -> str:
    """`off`, `on`, or a sample rate in [0, 1] (`--access-log`)."""
    value = text.strip().lower()
    if value in ("off", "on"):
        return value
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"not off, on or a rate: {text!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a rate is between 0 and 1: {text!r}")
    return value


@dataclass
class Settings:
    data_dir: Path = Path("./kosha-data")
    host: str = "127.0.0.1"
    port: int = 8080
    s3_port: int = 9000
    regions: tuple[Region, ...] = field(default_factory=lambda: parse_regions(DEFAULT_REGIONS))
    database_url: str | None = None          # default: sqlite under data_dir
    blobs: str | None = None                 # file:///path or s3://bucket/prefix?endpoint=...; default DIR/blobs
    public_url: str | None = None            # how clients reach the KOS port
    s3_public_url: str | None = None         # how clients reach the S3 port (pre-signed URLs)
    s3_domain: str | None = None             # virtual-hosted style: <bucket>.<s3_domain>
    session_lifetime: int = 3600             # seconds
    presign_expiry: int = 3600               # seconds, for URLs the KOS API hands out
    insecure_dev_auth: bool = False
    jwt_secret: str | None = None            # HS256
    jwks_file: Path | None = None            # RS256/ES256 public keys
    master_key: str | None = None            # base64; default DIR/master.key
    root_access_key: str | None = None
    root_secret_key: str | None = None
    inline_threshold: int = 64 * 1024        # objects up to this size live in the metadata row
    max_json_body: int = 1024 * 1024
    max_object_size: int = 5 * 1024**4
    min_part_size: int = 5 * 1024 * 1024       # S3's rule for every part but the last
    lifecycle_interval: int = 3600           # seconds between background lifecycle runs
    lease_seconds: float = 15.0              # a dead holder's background work moves after this
    storage_reserve: int = 16 * 1024 * 1024  # bytes held back on the data disk for deletes
    workers: int = 1                         # server processes on the same ports (kosha.supervisor)
    graceful_timeout: float = 30.0           # seconds in-flight requests get after SIGTERM
    tls_cert: Path | None = None             # PEM certificate (chain): both ports speak HTTPS
    tls_key: Path | None = None              # its PEM private key
    log_level: str = "info"
    access_log: str = "on"                   # one line per request: off, on, or a sample rate
    max_request_line: int = 16 * 1024        # bytes of method, target and version (414 beyond)
    max_header_bytes: int = 64 * 1024        # bytes of all header lines of a request (431 beyond)
    max_headers: int = 100                   # header lines of a request (431 beyond)
    header_timeout: float = 30.0             # seconds for a new connection or request to send its head
    keep_alive_timeout: float = 30.0         # seconds an idle keep-alive connection stays open
    body_timeout: float = 30.0               # seconds per rate check of a body being received (408)
    min_body_rate: int = 1024                # bytes/s a body must average over each body_timeout
    max_connections: int = 2048              # open connections, both ports together (503 beyond)
    max_connections_per_client: int = 256    # open connections from one client address
    max_uploads_per_client: int = 64         # requests with a body being received, per address
    activation_failures_per_key_address: int = 5   # in 60 s: that address is refused that key
    activation_failures_per_key: int = 50          # in 60 s, all addresses: those that failed wait
    activation_failures_per_address: int = 50      # in 60 s, all keys: its failed keys wait
    notify_targets: tuple[TargetSpec, ...] = ()    # event notification targets (id=url)
    notify_backlog_max: int = 1_000_000            # outbox rows; beyond, new events are dropped
    notify_nice: int = 10                          # niceness delivery adds to the server's

    @property
    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def region(self, name: str) -> Region | None:
        for r in self.regions:
            if r.name.lower() == name.lower():
                return r
        return None

    @property
    def default_region(self) -> Region:
        return self.regions[0]

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "kosha.db"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def kos_url(self) -> str:
        return (self.public_url
                or f"{self.scheme}://{_host_for_url(self.host)}:{self.port}").rstrip("/")

    @property
    def s3_url(self) -> str:
        return (self.s3_public_url
                or f"{self.scheme}://{_host_for_url(self.host)}:{self.s3_port}").rstrip("/")


def _host_for_url(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


ENV_PREFIX = "KOSHA_"


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name.upper(), default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")
