"""The metadata database: SQLite (embedded default) or PostgreSQL, through SQLAlchemy Core.

Reads run on a small thread pool so the event loop never blocks. Writes go to one writer thread
that groups whatever is queued into a single transaction, so a burst of small PUTs costs one
durable commit rather than one each. The writers a commit answers tend to come straight back
with their next write: before the next batch the writer waits for them, briefly (at most half
of the last batch's time), so that 16 concurrent writers share one commit instead of
alternating between two half-full ones.

Database faults become domain errors here (`kosha.store.faults`): a full disk is a 507, a locked
or unreachable database a 503. A write batch that finds the disk full runs once more after the
space reserve is given back (`on_full`), so that a delete can always free space.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from .. import metrics
from ..cache import TTLCache
from . import locks, retry, write_turn
from .change_probe import ChangeProbe
from .faults import from_db_error
from .schema import metadata

T = TypeVar("T")
Work = Callable[..., T]
MAX_BATCH = 128
LINGER_SHARE = 0.5   # of the last batch's time: the longest a batch waits for expected writers
LINGER_MAX = 0.002   # seconds, whatever the last batch took
MEMO_SECONDS = 5.0      # bounds the memory a memo entry holds, not its staleness (see read_memo)
MEMO_ENTRIES = 4096
_MISS = object()


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    engine = create_engine(url, poolclass=QueuePool, pool_size=1 if writer else 8, max_overflow=0 if writer else 8,
                           connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN/SAVEPOINT through untouched
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if writer:  # readers run each statement in its own implicit transaction: no BEGIN round trip
        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


BATCH_MEMO = "kosha.batch_memo"   # conn.info: what units of one transaction may share (below)
BATCH_SETTLE = "kosha.batch_settle"   # in BATCH_MEMO: work deferred to the memo's end (below)
_KEEPS_MEMO: set[Callable[..., Any]] = set()


def defer_to_settle(memo: dict[Any, Any], name: str, settle: Callable[[Connection], None]) -> None:
    """Have `settle(conn)` run once before `memo` ends (before any unit not marked
    `keeps_batch_memo` runs, after it, and before the commit): units of one batch pile up what
    they would each write (a bucket's byte and object counts) and one statement writes it."""
    memo.setdefault(BATCH_SETTLE, {})[name] = settle


def _settle(conn: Connection, memo: dict[Any, Any]) -> None:
    """End the memo: run the work deferred to its end, then empty it."""
    pending = memo.pop(BATCH_SETTLE, None)
    if pending:
        for settle in pending.values():
            settle(conn)
    memo.clear()


def keeps_batch_memo(fn: Work[T]) -> Work[T]:
    """Mark a unit of work that changes nothing its batch's units remember (`BATCH_MEMO`, a
    dict in `conn.info` that lives for one transaction): the memo is emptied before and after
    any other unit, so what a unit remembers (a bucket's versioning, say) holds until a unit
    that may change it runs."""
    _KEEPS_MEMO.add(fn)
    return fn


class Database:
    def __init__(self, url: str, on_full: Callable[[], bool] | None = None) -> None:
        self.url = url
        self._on_full = on_full
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.read_engine = _sqlite_engine(url, writer=False)
            self.write_engine = _sqlite_engine(url, writer=True)
        else:
            self.read_engine = _postgres_read_engine(url)
            self.write_engine = create_engine(url, pool_size=2, max_overflow=4, pool_pre_ping=True)
        self._readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kosha-db-read")
        self._queue: queue.SimpleQueue[tuple[Work[Any], tuple[Any, ...], asyncio.Future[Any] | None,
                                             asyncio.AbstractEventLoop | None]] = queue.SimpleQueue()
        self._conn: Connection | None = None  # the writer thread's
        self._pending: dict[asyncio.AbstractEventLoop, list[Any]] = {}   # write(): not queued yet
        self._batch_seconds = 0.0  # how long the last batch took, from gathered to answered
        self.generation = 0  # bumped after every committed batch of writes in this process
        self._turn = write_turn.for_database(self.write_engine.url.database) if self.is_sqlite else None
        self._probe = _change_probe(self.write_engine) if self.is_sqlite else None
        self._memo: TTLCache[Any, tuple[tuple[int, int], Any]] | None = (
            TTLCache(MEMO_SECONDS, MEMO_ENTRIES) if self._probe is not None else None)
        self._writer = threading.Thread(target=self._write_loop, name="kosha-db-write", daemon=True)
        self._writer.start()

    def create_schema(self) -> None:
        """Bring the schema up to date (Alembic migrations; see kosha.store.migrate)."""
        from .migrate import upgrade
        upgrade(self.write_engine)

    # -- reads ------------------------------------------------------------------------------
    def read_sync(self, fn: Work[T], *args: Any) -> T:
        try:
            try:
                return self._read_once(fn, *args)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                return self._read_once(fn, *args)  # a pooled connection the server had closed
        except Exception as exc:
            fault = from_db_error(exc)
            if fault is None:
                raise
            raise fault from exc

    def _read_once(self, fn: Work[T], *args: Any) -> T:
        with self.read_engine.connect() as conn:
            try:
                return fn(conn, *args)
            except DBAPIError:
                raise
            except Exception as exc:  # straight from a cursor (store.direct): SQLAlchemy never saw it
                if not self._closed_under(conn, exc):
                    raise
                conn.invalidate()
                self.read_engine.dispose(close=False)  # the pool's other connections died with it
                raise DBAPIError.instance(None, None, exc, self._dbapi_error(),
                                          connection_invalidated=True) from exc

    def _dbapi_error(self) -> type[Exception]:
        return self.read_engine.dialect.loaded_dbapi.Error  # type: ignore[no-any-return]

    def _closed_under(self, conn: Connection, exc: Exception) -> bool:
        """Whether a driver error means the server closed this connection."""
        return (isinstance(exc, self._dbapi_error())
                and self.read_engine.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None))

    async def read(self, fn: Work[T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_sync, fn, *args)

    async def read_memo(self, key: Any, fn: Work[T], *args: Any,
                        keep: Callable[[T], bool] = lambda _value: True) -> T:
        """A read answered from memory while nothing was written to the database since.

        Only on SQLite: "nothing was written" is this process's write count plus the file's
        change counter (`PRAGMA data_version`, which moves when any other connection, in this
        process or another one, commits), read in a few microseconds from the shared WAL index.
        So another `kosha serve` or the CLI writing the same file is seen at once. With
        PostgreSQL every read goes to the database. `keep` says whether a value is worth its
        memory.
        """
        memo = self._memo
        if memo is None:
            return await self.read(fn, *args)
        token = self._write_token()
        hit = memo.get(key)
        if hit is not None and hit[0] == token:
            return hit[1]  # type: ignore[no-any-return]
        value = await self.read(fn, *args)
        if keep(value):
            memo.put(key, (token, value))
        return value

    def _write_token(self) -> tuple[int, Any]:
        return self.generation, (self._probe.token() if self._probe is not None else None)

    def data_version(self) -> int | None:
        """SQLite's change counter of the file (moves when any connection, of any process,
        commits; a few microseconds); None on PostgreSQL."""
        return None if self._probe is None else self._probe.pragma()

    def probe_scalar(self, sql: str) -> Any:
        """The first column of the first row of a read on the change probe's own connection
        (SQLite only: None on PostgreSQL), for a value polled many times a second (the
        notification follower's last outbox sequence): no thread hop or pool checkout, ~5 us
        against ~100 us through `read_sync`."""
        if self._probe is None:
            return None
        row = self._probe.cursor.execute(sql).fetchone()
        return None if row is None else row[0]

    # -- writes -----------------------------------------------------------------------------
    async def write(self, fn: Work[T], *args: Any) -> T:
        """Run `fn(conn, *args)` in a transaction; return once it is durably committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:   # the first write of this turn of the loop: hand over at its end
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append((fn, args, fut, loop))
        return await fut

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queue the writes of one turn of the loop together: the writer wakes once for them,
        not once per write."""
        for item in self._pending.pop(loop, ()):
            self._queue.put(item)

    def write_sync(self, fn: Work[T], *args: Any) -> T:
        """The same, from a thread that is not the event loop (CLI, background workers)."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def work(conn: Connection, *a: Any) -> Any:
            return fn(conn, *a)

        def finish(result: Any, error: BaseException | None) -> None:
            box["result"], box["error"] = result, error
            done.set()

        self._queue.put((work, args, None, finish))  # type: ignore[arg-type]
        done.wait()
        if box["error"] is not None:
            raise box["error"]
        return box["result"]

    def _write_loop(self) -> None:
        expected = 1
        while True:
            batch = self._gather(expected)
            if batch is None:
                return
            with write_turn.held(self._turn):
                started = time.perf_counter()
                self._fill(batch, MAX_BATCH)  # what queued while another process wrote joins in
                outcomes = self._outcomes(batch)
            self._answer(batch, outcomes)
            self._batch_seconds = time.perf_counter() - started
            expected = len(batch) + self._queue.qsize()  # those answered come back; these wait

    def _gather(self, expected: int) -> list[Any] | None:
        """The next batch: the first writer queued, and, for a short while, the `expected`
        writers not queued yet. None once the database is closing."""
        first = self._queue.get()
        if first[0] is None:
            return None
        batch = [first]
        deadline = time.perf_counter() + min(LINGER_MAX, LINGER_SHARE * self._batch_seconds)
        self._fill(batch, min(expected, MAX_BATCH), deadline)
        return batch

    def _fill(self, batch: list[Any], upto: int, deadline: float | None = None) -> None:
        """Add queued writers to `batch` until it holds `upto`: those queued now, or, with a
        `deadline`, also those that arrive before it."""
        while len(batch) < upto:
            try:
                item = (self._queue.get_nowait() if deadline is None else
                        self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
            except queue.Empty:
                return
            if item[0] is None:
                self._queue.put(item)
                return
            batch.append(item)

    def _outcomes(self, batch: list[Any]) -> list[tuple[Any, BaseException | None]]:
        """One transaction for the whole batch; if any unit fails, each runs again on its own."""
        if len(batch) > 1:
            try:
                outcomes = self._transaction(batch, isolated=False)
                if retry.retryable(outcomes[0][1]):   # the group's commit lost a race
                    raise _UnitFailed()
            except _UnitFailed:
                outcomes = [self._alone(item) for item in batch]
        else:
            outcomes = [self._alone(batch[0])]
        if self._on_full is not None and any(_is_full(e) for _r, e in outcomes) and self._on_full():
            outcomes = [self._alone(item) if _is_full(outcome[1]) else outcome
                        for item, outcome in zip(batch, outcomes)]
        return [(r, _translated(e)) for r, e in outcomes]

    def _answer(self, batch: list[Any], outcomes: list[tuple[Any, BaseException | None]]) -> None:
        self.generation += 1  # before any caller hears of its write: later reads miss the memo
        answers: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for (_fn, _args, fut, loop), (result, error) in zip(batch, outcomes):
            if fut is None:
                loop(result, error)  # write_sync's callback
            else:
                answers.setdefault(loop, []).append((fut, result, error))
        for loop, answered in answers.items():  # one wake-up of each loop per batch
            loop.call_soon_threadsafe(_resolve_all, answered)

    def _alone(self, item: Any) -> tuple[Any, BaseException | None]:
        """One unit in its own transaction, run again (a few times, after a jittered pause) if
        it lost a race with another process: a deadlock, a serialisation failure, a version
        another writer committed first (kosha.store.retry)."""
        for attempt in range(retry.ATTEMPTS):
            outcome = self._transaction([item], isolated=True)[0]
            if outcome[1] is None or not retry.retryable(outcome[1]):
                return outcome
            if attempt < retry.ATTEMPTS - 1:
                retry.pause(attempt)
        return None, retry.gave_up(outcome[1])

    def _transaction(self, batch: list[Any], isolated: bool) -> list[tuple[Any, BaseException | None]]:
        results: list[Any] = []
        try:
            conn = self._writer_connection()
        except Exception as exc:  # the database cannot be reached: every caller hears it
            return [(None, exc)] * len(batch)
        locks.grouped(not isolated)
        memo: dict[Any, Any] = {}
        conn.info[BATCH_MEMO] = memo
        try:
            with conn.begin():
                try:
                    for fn, args, _fut, _loop in batch:
                        keeps = fn in _KEEPS_MEMO
                        if not keeps:
                            _settle(conn, memo)
                        results.append(fn(conn, *args))
                        if not keeps:
                            _settle(conn, memo)
                    _settle(conn, memo)
                except Exception as exc:
                    if not isolated:
                        raise _UnitFailed() from exc
                    raise
        except _UnitFailed:
            raise
        except Exception as exc:  # the unit (isolated) or the commit failed: every caller hears it
            if conn.invalidated or conn.closed:
                self._conn = None
            return [(None, exc)] * len(batch)
        finally:
            locks.grouped(False)
        metrics.DB_COMMITS.inc()
        metrics.DB_WRITES.inc(len(batch))
        return [(r, None) for r in results]

    def _writer_connection(self) -> Connection:
        """The writer thread's one connection, kept open: no pool checkout per batch."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.write_engine.connect()
        return self._conn

    def close(self) -> None:
        self._queue.put((None, (), None, None))  # type: ignore[arg-type]
        self._writer.join(timeout=10)
        if self._conn is not None:
            self._conn.close()
        self._readers.shutdown(wait=True)
        if self._turn is not None:
            self._turn.close()
        if self._probe is not None:
            self._probe.close()
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def _postgres_read_engine(url: str) -> Engine:
    """Readers in autocommit: a read is one round trip, not BEGIN, the query and ROLLBACK.

    Under READ COMMITTED each statement saw its own snapshot anyway, so no read loses a
    guarantee. No ping at checkout either (one more round trip per read): a connection the
    server closed fails its first statement, which invalidates the pool, and read_sync runs
    the read again on a fresh connection.
    """
    return create_engine(url, pool_size=8, max_overflow=8, isolation_level="AUTOCOMMIT")


def _change_probe(engine: Engine) -> ChangeProbe | None:
    """What only ever tells whether the file changed (kosha.store.change_probe)."""
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    return ChangeProbe(path)


def _is_full(error: BaseException | None) -> bool:
    fault = from_db_error(error) if error is not None else None
    return fault is not None and fault.status == 507


def _translated(error: BaseException | None) -> BaseException | None:
    if error is None:
        return None
    return from_db_error(error) or error


class _UnitFailed(Exception):
    """One unit of a grouped transaction failed: the group is rolled back and run unit by unit."""


def _resolve_all(answered: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, error in answered:
        if fut.cancelled():
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)


__all__ = ["Database", "metadata"]
