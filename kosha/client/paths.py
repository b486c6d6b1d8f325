"""Remote paths (`kos://bucket/key`) and local ones, and how a copy names its destinations."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from .errors import USAGE, ClientError

SCHEME = "kos://"


@dataclass(frozen=True)
class Remote:
    bucket: str
    key: str = ""

    @property
    def is_folder(self) -> bool:
        """A bucket alone or a key ending in '/': a destination that files go *into*."""
        return self.key == "" or self.key.endswith("/")

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


def is_remote(text: str) -> bool:
    return text.startswith(SCHEME)


def parse_remote(text: str) -> Remote:
    if not is_remote(text):
        raise ClientError(f"{text!r} is not a remote path", "write it as kos://BUCKET/KEY", USAGE)
    bucket, _, key = text[len(SCHEME):].partition("/")
    if not bucket:
        raise ClientError(f"{text!r} names no bucket", "write it as kos://BUCKET/KEY", USAGE)
    return Remote(bucket, key)


def parse_bucket(text: str) -> str:
    """A path that must name a bucket alone: `kos://BUCKET` (or `kos://BUCKET/`). A key after
    it is refused, so that `rb --force kos://photos/tmp` cannot empty all of `photos`."""
    remote = parse_remote(text)
    if remote.key:
        raise ClientError(f"{text!r} names a key, and this command takes a bucket",
                          f"write kos://{remote.bucket}", USAGE)
    return remote.bucket


def parse_object(text: str) -> Remote:
    """A path that must name an object: `kos://BUCKET/KEY`, the key not a folder."""
    remote = parse_remote(text)
    if remote.is_folder:
        raise ClientError(f"{text!r} names {'a bucket' if not remote.key else 'a folder'}, and "
                          "this command takes an object", "write kos://BUCKET/KEY", USAGE)
    return remote


def as_folder(key: str) -> str:
    return key if key == "" or key.endswith("/") else key + "/"


def base_name(key: str) -> str:
    return posixpath.basename(key.rstrip("/"))


def relative_key(key: str, prefix: str) -> str:
    """`key` below `prefix` (both remote), for naming a copy's destination."""
    return key[len(prefix):] if key.startswith(prefix) else base_name(key)
