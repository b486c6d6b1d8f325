"""Where blobs live: `--blobs file:///path` or `--blobs s3://bucket/prefix?endpoint=...&region=...`.

The URL names a place, never a secret: credentials for `s3://` come from the environment
(`KOSHA_BLOBS_ACCESS_KEY`/`KOSHA_BLOBS_SECRET_KEY`, else `AWS_ACCESS_KEY_ID`/
`AWS_SECRET_ACCESS_KEY`) or from an AWS-style credentials file (`KOSHA_BLOBS_CREDENTIALS_FILE`,
profile `?profile=` or `default`), so they never appear in a process listing, a log line or a
settings dump. A URL carrying `user:password@` is refused for the same reason.

`payload=` chooses how each request to the cluster covers its body (docs/storage-backends.md):
`signed` puts the body's SHA-256 into the SigV4 signature (the cluster hashes it again to check),
`unsigned` sends `UNSIGNED-PAYLOAD` and saves both SHA-256 passes; `auto` (the default) is
unsigned where nobody can alter the bytes on the way (an https endpoint, or loopback) and signed
on plain HTTP across a network. `checksum=crc64nvme|sha256` adds a per-request checksum header
the cluster verifies (AWS and recent MinIO and Ceph releases; RGW 16, Pacific, ignores it).
"""

from __future__ import annotations

import configparser
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_S3_OPTIONS = {"endpoint", "region", "profile", "virtual_hosted", "payload", "checksum"}
PAYLOAD_MODES = ("auto", "signed", "unsigned")
CHECKSUMS = ("none", "crc64nvme", "sha256")


@dataclass(frozen=True)
class FileLocation:
    """Blobs as files under `path` (a local disk, or a POSIX mount shared by every process)."""
    path: Path

    @property
    def display(self) -> str:
        return f"file://{self.path.resolve()}"


@dataclass(frozen=True)
class S3Credentials:
    access_key: str
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"S3Credentials(access_key={self.access_key[:4]}..., secret_key=***)"


@dataclass(frozen=True)
class S3Location:
    """Blobs as objects `<prefix><blob id>` in `bucket` of an S3-compatible cluster."""
    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    profile: str
    virtual_hosted: bool = False
    payload: str = "auto"
    checksum: str = "none"

    @property
    def display(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    @property
    def unsigned_payload(self) -> bool:
        """Whether requests leave the body out of their signature (`payload=`, resolved)."""
        if self.payload != "auto":
            return self.payload == "unsigned"
        return self.endpoint is None or _private_path(self.endpoint)


def _private_path(endpoint: str) -> bool:
    """True for an https endpoint (TLS authenticates every byte) or one on loopback (the bytes
    never leave the machine); False for plain HTTP to another host."""
    parts = urlsplit(endpoint)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


BlobLocation = FileLocation | S3Location


def parse(url: str | None, data_dir: Path) -> BlobLocation:
    """The location a `--blobs` value names (None: `DIR/blobs`, today's layout)."""
    if not url:
        return FileLocation(data_dir / "blobs")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"--blobs: a file URL is file:///absolute/path, not {url!r}")
        return FileLocation(Path(unquote(parts.path)))
    if parts.scheme != "s3":
        raise ValueError(f"--blobs: expected file:///path or s3://bucket/prefix, not {parts.scheme or url!r}")
    if "@" in parts.netloc:
        raise ValueError("--blobs: credentials do not belong in the URL; set KOSHA_BLOBS_ACCESS_KEY "
                         "and KOSHA_BLOBS_SECRET_KEY or KOSHA_BLOBS_CREDENTIALS_FILE")
    if not parts.netloc:
        raise ValueError("--blobs: s3:// needs a bucket name: s3://bucket/prefix")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - _S3_OPTIONS
    if unknown:
        raise ValueError(f"--blobs: unknown option(s) {sorted(unknown)}; known: {sorted(_S3_OPTIONS)}")
    prefix = unquote(parts.path).strip("/")
    endpoint = query.get("endpoint") or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError(f"--blobs: endpoint must be an http:// or https:// URL, not {endpoint!r}")
    payload = (query.get("payload") or "auto").lower()
    if payload not in PAYLOAD_MODES:
        raise ValueError(f"--blobs: payload must be one of {', '.join(PAYLOAD_MODES)}, not {payload!r}")
    checksum = (query.get("checksum") or "none").lower()
    if checksum not in CHECKSUMS:
        raise ValueError(f"--blobs: checksum must be one of {', '.join(CHECKSUMS)}, not {checksum!r}")
    return S3Location(bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "", endpoint=endpoint,
                      region=query.get("region") or os.environ.get("AWS_REGION") or "us-east-1",
                      profile=query.get("profile") or "default",
                      virtual_hosted=query.get("virtual_hosted", "").lower() in ("1", "true", "yes"),
                      payload=payload, checksum=checksum)


def credentials(location: S3Location, environ: dict[str, str] | None = None) -> S3Credentials:
    """The keys for the blob cluster, from the environment or a credentials file."""
    env = dict(os.environ if environ is None else environ)
    for key_var, secret_var in (("KOSHA_BLOBS_ACCESS_KEY", "KOSHA_BLOBS_SECRET_KEY"),
                                ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
        if env.get(key_var) and env.get(secret_var):
            token = env.get("AWS_SESSION_TOKEN") if key_var.startswith("AWS") else None
            return S3Credentials(env[key_var], env[secret_var], token or None)
    path = env.get("KOSHA_BLOBS_CREDENTIALS_FILE")
    if path:
        return _from_file(Path(path), location.profile)
    raise ValueError("--blobs s3://: no credentials; set KOSHA_BLOBS_ACCESS_KEY and "
                     "KOSHA_BLOBS_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
                     "or KOSHA_BLOBS_CREDENTIALS_FILE")


def _from_file(path: Path, profile: str) -> S3Credentials:
    """An AWS shared-credentials file: `[profile]` with aws_access_key_id / aws_secret_access_key."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        raise ValueError(f"KOSHA_BLOBS_CREDENTIALS_FILE: cannot read {path}: {exc.strerror}") from None
    if not parser.has_section(profile):
        raise ValueError(f"KOSHA_BLOBS_CREDENTIALS_FILE: {path} has no [{profile}] section")
    section = parser[profile]
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        raise ValueError(f"KOSHA_BLOBS_CREDENTIALS_FILE: [{profile}] in {path} lacks "
                         "aws_access_key_id or aws_secret_access_key")
    return S3Credentials(key.strip(), secret.strip(), (section.get("aws_session_token") or "").strip() or None)
