"""Helpers shared by the bucket, object, lifecycle, bucket-policy and write-path API tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

API = "/kos/v1"


def bucket_name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have `status` (the body is shown when it has not)."""
    assert response.status_code == status, f"{response.request.method} {response.request.url.path}: " \
                                           f"{response.status_code} {response.text[:500]}"
    return response.json() if response.content else None


def create_bucket(client: httpx.Client, name: str | None = None, **body: Any) -> dict[str, Any]:
    return dict(expect(client.post(f"{API}/buckets", json={"name": name or bucket_name(), **body}), 201))


def get_bucket(client: httpx.Client, ref: str) -> dict[str, Any]:
    return dict(expect(client.get(f"{API}/buckets/{ref}"), 200))


def upload(client: httpx.Client, bucket: str, files: dict[str, bytes] | Iterable[tuple[str, bytes]],
           prefix: str | None = None) -> httpx.Response:
    """A multipart/form-data upload of `{file name: bytes}`, with the `prefix` field first."""
    items = files.items() if isinstance(files, dict) else files
    parts: list[tuple[str, Any]] = []
    if prefix is not None:
        parts.append(("prefix", (None, prefix.encode())))
    parts += [("file", (name, data, "application/octet-stream")) for name, data in items]
    return client.put(f"{API}/buckets/{bucket}/objects", files=parts)


def put_object(client: httpx.Client, bucket: str, key: str, data: bytes) -> None:
    expect(upload(client, bucket, {key: data}), 201)


def list_objects(client: httpx.Client, bucket: str, prefix: str = "", **params: Any) -> dict[str, Any]:
    return dict(expect(client.get(f"{API}/buckets/{bucket}/objects", params={"prefix": prefix, **params}), 200))


def post(client: httpx.Client, bucket: str, op: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return client.post(f"{API}/buckets/{bucket}/objects/{op}", json=body, **kw)


def download(client: httpx.Client, bucket: str, key: str, **headers: str) -> httpx.Response:
    return post(client, bucket, "download", {"objectkey": key},
                headers={"Accept": "application/octet-stream", **headers})


def metadata(client: httpx.Client, bucket: str, key: str) -> httpx.Response:
    return post(client, bucket, "metadata", {"objectkey": key})


def blob_bytes(data_dir: Path) -> int:
    """Bytes in committed blob files (temporary files excluded)."""
    total = 0
    for sub in (data_dir / "blobs").iterdir():
        if sub.is_dir() and sub.name != "tmp":
            total += sum(entry.stat().st_size for entry in os.scandir(sub))
    return total


def temp_files(data_dir: Path) -> list[Path]:
    return list((data_dir / "blobs" / "tmp").iterdir())
