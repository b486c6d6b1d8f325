"""UploadPartCopy against a delete of its source: the part shares the source's blob only if the
blob is still referenced when the part is recorded; otherwise NoSuchKey, and nothing is kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kosha.errors import NotFound

from .inprocess import ADMIN, Live

BIG = b"p" * (100 * 1024)    # past the inline threshold: lives in a blob


def delete_source_after_reading_it(live: Live, bucket: str, key: str) -> None:
    """Make the next read of an object's metadata delete it right after: the race, made certain."""
    objects = live.kosha.objects
    head = objects.head

    async def head_then_delete(*args: Any, **kwargs: Any) -> Any:
        found = await head(*args, **kwargs)
        objects.head = head     # type: ignore[method-assign]
        await objects.delete(ADMIN, bucket, key)
        return found

    objects.head = head_then_delete     # type: ignore[method-assign]


def referenced_blobs(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "kosha.db") as db:
        return int(db.execute("SELECT count(*) FROM blobs").fetchone()[0])


@pytest.mark.parametrize("byte_range", [None, (10, 5000)], ids=["shared-blob", "copied-range"])
def test_a_part_copy_whose_source_is_deleted_meanwhile_is_no_such_key_and_keeps_no_part(
        live: Live, tmp_path: Path, byte_range: tuple[int, int] | None) -> None:
    bucket = live.bucket()
    live.put(bucket, "src", BIG)
    upload = live.run(live.kosha.multipart.create(ADMIN, bucket, "dst"))
    delete_source_after_reading_it(live, bucket, "src")
    with pytest.raises(NotFound) as refused:
        live.run(live.kosha.multipart.upload_part_copy(ADMIN, bucket, "dst", upload, 1, bucket,
                                                       "src", byte_range=byte_range))
    assert refused.value.s3_code == "NoSuchKey"
    _upload, parts, _more = live.run(live.kosha.multipart.list_parts(ADMIN, bucket, "dst", upload))
    assert parts == []
    assert referenced_blobs(tmp_path / "data") == 0


def test_a_part_copy_that_took_its_reference_first_keeps_the_bytes_after_the_source_is_deleted(
        live: Live) -> None:
    bucket = live.bucket()
    live.put(bucket, "src", BIG)
    upload = live.run(live.kosha.multipart.create(ADMIN, bucket, "dst"))
    part = live.run(live.kosha.multipart.upload_part_copy(ADMIN, bucket, "dst", upload, 1, bucket, "src"))
    live.run(live.kosha.objects.delete(ADMIN, bucket, "src"))
    live.run(live.kosha.multipart.complete(ADMIN, bucket, "dst", upload, [(1, part.etag)]))
    version = live.run(live.kosha.objects.head(ADMIN, bucket, "dst"))
    assert live.run(_read(live, version)) == BIG


async def _read(live: Live, version: Any) -> bytes:
    return b"".join([chunk async for chunk in live.kosha.objects.read(version)])
