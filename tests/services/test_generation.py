"""The cache-generation poll on SQLite answers from the read memo between commits; a commit of
another process must still reach the next poll (kosha.services.generation)."""

from __future__ import annotations

import sqlite3

from .inprocess import Live


def test_a_bump_committed_by_another_connection_is_seen_by_the_next_poll(live: Live) -> None:
    watcher = live.kosha.generation
    live.run(watcher.poll())
    live.run(watcher.poll())   # answered from the memo: nothing was committed in between
    other = sqlite3.connect(live.kosha.settings.sqlite_path)
    with other:
        other.execute("UPDATE cache_generation SET value = value + 1")
    other.close()
    live.run(watcher.poll())
    assert watcher.clears == 1
