"""Version semantics of the metadata store, on a real SQLite database.

These exercise kosha.store.objects directly: what a PUT, a copy and a DELETE do to the rows of a
key and to the bucket's byte count, with versioning off, enabled and suspended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from kosha.errors import NotFound, PreconditionFailed, QuotaExceeded
from kosha.store import objects as sql
from kosha.store import schema
from kosha.store.database import Database


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    database.create_schema()
    database.write_sync(_bucket, "b", "")
    yield database
    database.close()


def _bucket(conn: Any, name: str, versioning: str, quota: int | None = None) -> None:
    conn.execute(insert(schema.buckets).values(
        name=name, krn=f"krn:kos:r:1:k:bucket:{name}", account_id="1", owner="k", region="r",
        tier="t", tags={}, versioning=versioning, anonymous_access=False, acl="private",
        status="active", allocated_capacity=quota, used_capacity=0, object_count=0, created_at=0.0))


def _set_versioning(db: Database, state: str) -> None:
    db.write_sync(lambda c: c.execute(schema.buckets.update().values(versioning=state)))


def put(db: Database, key: str, data: bytes, blob: str | None = None, **pre: str) -> Any:
    blobs = [[blob, len(data)]] if blob else []
    content = sql.Content(size=len(data), etag=f"etag-{data.decode()}", blobs=blobs,
                          inline_data=None if blob else data)
    row, freed = db.write_sync(sql.commit_version, "b", key, content, {}, 1.0,
                               sql.Preconditions(**pre) if pre else None)
    return row, freed


def rows(db: Database, key: str) -> list[Any]:
    return db.read_sync(lambda c: c.execute(select(schema.objects).where(schema.objects.c.key == key)
                                            .order_by(schema.objects.c.seq)).all())


def usage(db: Database) -> tuple[int, int]:
    row = db.read_sync(lambda c: c.execute(select(schema.buckets)).first())
    return row.used_capacity, row.object_count


def test_unversioned_overwrite_replaces_and_frees_the_old_blob(db: Database) -> None:
    put(db, "k", b"one", blob="a" * 32)
    _, freed = put(db, "k", b"three", blob="b" * 32)
    assert freed == ["a" * 32]
    assert [r.version_id for r in rows(db, "k")] == ["null"]
    assert usage(db) == (5, 1)


def test_versioned_overwrite_keeps_the_noncurrent_version(db: Database) -> None:
    _set_versioning(db, "Enabled")
    put(db, "k", b"one")
    put(db, "k", b"two")
    found = rows(db, "k")
    assert [r.is_latest for r in found] == [False, True]
    assert len({r.version_id for r in found}) == 2
    assert usage(db) == (6, 2)


def test_versioned_delete_writes_a_marker_and_deleting_the_marker_restores(db: Database) -> None:
    _set_versioning(db, "Enabled")
    put(db, "k", b"one")
    vid, marker, _ = db.write_sync(sql.delete_version, "b", "k", None, 2.0)
    assert marker is True
    assert db.read_sync(sql.latest, "b", "k").is_delete_marker
    db.write_sync(sql.delete_version, "b", "k", vid, 3.0)
    assert db.read_sync(sql.latest, "b", "k").inline_data == b"one"


def test_suspended_versioning_overwrites_only_the_null_version(db: Database) -> None:
    _set_versioning(db, "Enabled")
    put(db, "k", b"v1")
    _set_versioning(db, "Suspended")
    put(db, "k", b"n1")
    put(db, "k", b"n2")
    found = rows(db, "k")
    assert [r.inline_data for r in found] == [b"v1", b"n2"]
    assert found[-1].version_id == "null" and found[-1].is_latest


def test_copy_shares_the_blob_instead_of_copying(db: Database) -> None:
    put(db, "src", b"data", blob="c" * 32)
    db.write_sync(sql.copy_version, "b", "src", None, "b", "dst", {}, 2.0)
    refcount = db.read_sync(lambda c: c.execute(select(schema.blobs.c.refcount)).scalar())
    assert refcount == 2
    _, _, freed = db.write_sync(sql.delete_version, "b", "src", None, 3.0)
    assert freed == []
    _, _, freed = db.write_sync(sql.delete_version, "b", "dst", None, 3.0)
    assert freed == ["c" * 32]
    assert usage(db) == (0, 0)


def test_if_none_match_star_refuses_to_overwrite(db: Database) -> None:
    put(db, "k", b"one")
    with pytest.raises(PreconditionFailed):
        put(db, "k", b"two", if_none_match="*")
    assert rows(db, "k")[0].inline_data == b"one"


def test_if_match_on_a_missing_key_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        put(db, "k", b"x", if_match='"etag-x"')


def test_a_write_past_the_quota_stores_nothing(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'q.db'}")
    database.create_schema()
    database.write_sync(_bucket, "b", "", 4)
    try:
        put(database, "small", b"abc")
        with pytest.raises(QuotaExceeded):
            put(database, "big", b"abcd")
        assert rows(database, "big") == []
        assert usage(database) == (3, 1)
    finally:
        database.close()


def test_listing_rolls_up_common_prefixes_and_pages(db: Database) -> None:
    for key in ["a/1", "a/2", "b", "c/x/y", "d"]:
        put(db, key, b"x")
    found, prefixes, truncated, last = db.read_sync(sql.list_latest, "b", "", "/", None, 3)
    assert [r.key for r in found] == ["b"] and prefixes == ["a/", "c/"] and truncated
    found, prefixes, truncated, _ = db.read_sync(sql.list_latest, "b", "", "/", last, 3)
    assert [r.key for r in found] == ["d"] and prefixes == [] and not truncated


def test_listing_hides_keys_whose_latest_version_is_a_delete_marker(db: Database) -> None:
    _set_versioning(db, "Enabled")
    put(db, "gone", b"x")
    put(db, "kept", b"x")
    db.write_sync(sql.delete_version, "b", "gone", None, 2.0)
    found, _, _, _ = db.read_sync(sql.list_latest, "b", "", None, None, 100)
    assert [r.key for r in found] == ["kept"]
    versions, _, _, _, _ = db.read_sync(sql.list_versions, "b", "", None, None, None, 100)
    assert [(r.key, r.is_delete_marker) for r in versions] == [
        ("gone", True), ("gone", False), ("kept", False)]
