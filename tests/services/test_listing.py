"""Property test of the folder listing the KOS API serves (delimiter "/", paged).

For random key sets (some keys deleted in a versioned bucket), listing under a prefix, page by
page, must equal the model: the immediate children of the prefix -- keys, and "folders" that
end in "/" -- in code-point order, each once, deleted keys left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosha.store import objects as sql

from .inprocess import ADMIN, Live

ALPHABET = ["a", "b", "/", ".", "0", "-", "é", "😀"]
keys_st = st.text(alphabet=ALPHABET, min_size=1, max_size=8)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    instance = Live(tmp_path_factory.mktemp("listing") / "data")
    yield instance
    instance.close()


def model(keys: set[str], prefix: str) -> list[str]:
    out = set()
    for key in keys:
        if key.startswith(prefix):
            rest = key[len(prefix):]
            cut = rest.find("/")
            out.add(key if cut < 0 else prefix + rest[:cut + 1])
    return sorted(out)


def _store(conn: Any, bucket: str, keys: list[str], deleted: list[str]) -> None:
    """Write the keys (and delete some) in one transaction: the listing is what is under test."""
    for key in keys:
        sql.commit_version(conn, bucket, key, sql.Content(size=1, etag="e", blobs=[], inline_data=b"x"),
                           {}, 1.0)
    for key in deleted:
        sql.delete_version(conn, bucket, key, None, 2.0)


def listed(live: Live, bucket: str, prefix: str, page_size: int) -> list[str]:
    seen: list[str] = []
    marker = None
    while True:
        page = live.run(live.kosha.objects.list(ADMIN, bucket, prefix=prefix, delimiter="/",
                                                start_after=marker, max_keys=page_size))
        entries = sorted([o.key for o in page.objects] + page.prefixes)
        assert len(entries) <= page_size
        seen += entries
        if not page.is_truncated:
            return seen
        assert entries and page.next_marker == entries[-1]
        marker = page.next_marker


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(keys_st, min_size=0, max_size=40, unique=True), data=st.data(),
       page_size=st.integers(min_value=1, max_value=7))
def test_listing_equals_the_model(live: Live, keys: list[str], data: st.DataObject, page_size: int) -> None:
    bucket = live.bucket(versioning=True)
    deleted = data.draw(st.lists(st.sampled_from(keys), unique=True) if keys else st.just([]))
    live.kosha.db.write_sync(_store, bucket, keys, deleted)
    candidates = [k[:i] for k in keys for i in range(len(k) + 1)]
    prefix = data.draw(st.sampled_from(candidates) | keys_st | st.just("")
                       if candidates else st.just(""))
    expected = model(set(keys) - set(deleted), prefix)
    assert listed(live, bucket, prefix, page_size) == expected
    assert listed(live, bucket, prefix, 1000) == expected
