"""The console's static files, read once at import into a fixed whitelist.

A request names an asset; it is looked up in this table and never joined to a filesystem path.
Each asset carries a strong ETag (a hash of its bytes) so browsers revalidate cheaply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _load() -> dict[str, Asset]:
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC.iterdir()):
        kind = TYPES.get(path.suffix)
        if kind is None or not path.is_file():
            continue
        body = path.read_bytes()
        assets[path.name] = Asset(body, kind, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return assets


ASSETS: dict[str, Asset] = _load()
