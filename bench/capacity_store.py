"""What the metadata store holds and writes, for bench/capacity.py.

- `TableSizes`: rows and bytes of every table, indexes included (PostgreSQL:
  pg_total_relation_size, so TOAST too; SQLite: the `dbstat` pages of each table and its indexes).
  Taken before and after a batch of writes, the difference divided by the batch is the cost of
  one object.
- `WalWindow`: the PostgreSQL WAL written by one database between two moments, read back with
  `pg_walinspect` (records whose blocks belong to the database, plus the commit records of their
  transactions). WAL positions are cluster-wide and other sessions write to the same server,
  so the plain LSN difference would count their writes too; this does not.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Snapshot:
    rows: dict[str, int]
    bytes: dict[str, int]

    def minus(self, before: "Snapshot") -> "Snapshot":
        names = set(self.rows) | set(before.rows)
        return Snapshot({n: self.rows.get(n, 0) - before.rows.get(n, 0) for n in names},
                        {n: self.bytes.get(n, 0) - before.bytes.get(n, 0) for n in names})


class TableSizes:
    """Row counts and on-disk bytes per table of one Kosha metadata database."""

    def __init__(self, pg_url: str | None, sqlite_path: Path | None) -> None:
        self.pg_url, self.sqlite_path = pg_url, sqlite_path

    def snapshot(self) -> Snapshot:
        return self._pg() if self.pg_url else self._sqlite()

    def _pg(self) -> Snapshot:
        import psycopg
        with psycopg.connect(self.pg_url, autocommit=True) as c:
            names = [r[0] for r in c.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            rows = {n: c.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
            size = {n: c.execute("SELECT pg_total_relation_size(%s)", (f'public."{n}"',)
                                 ).fetchone()[0] for n in names}
        return Snapshot(rows, size)

    def _sqlite(self) -> Snapshot:
        c = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
        try:
            owner = dict(c.execute("SELECT name, tbl_name FROM sqlite_master "
                                   "WHERE type IN ('table', 'index')"))
            tables = [n for n, t in owner.items() if n == t and not n.startswith("sqlite_")]
            rows = {n: c.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in tables}
            size: Counter[str] = Counter()
            for name, pgsize in c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                size[owner.get(name, name)] += pgsize
        finally:
            c.close()
        return Snapshot(rows, {n: size.get(n, 0) for n in tables})


@dataclass
class Wal:
    """WAL records of one database in a window, by kind; `commits` are its write transactions."""
    records: Counter = field(default_factory=Counter)   # "Heap/INSERT" -> count
    bytes: int = 0
    fpi_bytes: int = 0

    @property
    def commits(self) -> int:
        return self.records["Transaction/COMMIT"]

    def count(self, rmgr: str, *kinds: str) -> int:
        return sum(n for k, n in self.records.items()
                   if k.startswith(rmgr + "/") and k.split("/", 1)[1].split("+")[0] in kinds)


_WAL_QUERY = """
WITH r AS (SELECT * FROM pg_get_wal_records_info(%(start)s, %(end)s)),
ours AS (SELECT DISTINCT xid FROM r WHERE xid <> 0 AND block_ref LIKE %(like)s)
SELECT resource_manager || '/' || record_type, count(*), sum(record_length), sum(fpi_length)
FROM r WHERE block_ref LIKE %(like)s OR (xid <> 0 AND xid IN (SELECT xid FROM ours))
GROUP BY 1
"""


class WalWindow:
    """`with WalWindow(url) as w: ...` then `w.wal`: what that database wrote meanwhile."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.wal = Wal()
        self.error = ""  # set when the window's WAL was recycled before it could be read

    def _connect(self):
        import psycopg
        return psycopg.connect(self.url, autocommit=True)

    def __enter__(self) -> "WalWindow":
        with self._connect() as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            self.oid = c.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                                 ).fetchone()[0]
            self.start = c.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            return
        import psycopg
        try:
            self._read()
        except psycopg.Error as e:   # e.g. recycled meanwhile: other sessions write WAL too
            self.error = str(e).strip()

    def _read(self) -> None:
        with self._connect() as c:
            end = c.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
            like = f"%/{self.oid}/%"
            for kind, n, size, fpi in c.execute(_WAL_QUERY, {"start": self.start, "end": end,
                                                              "like": like}):
                self.wal.records[kind] += n
                self.wal.bytes += int(size or 0)
                self.wal.fpi_bytes += int(fpi or 0)
