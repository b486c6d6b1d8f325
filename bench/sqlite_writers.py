"""Processes writing one SQLite file through kosha's Database: writes/s with the writers' turn
(kosha/store/write_turn.py) and without it (SQLite's busy handler alone), and one process alone.

No HTTP, no request parsing: each process runs `--writers` coroutines that await small write
units (an INSERT and the UPDATE of one shared counter row, as a PUT's version row and its
bucket's byte count) for `--duration` s, so the figure is the writers' hand-over itself. The
configurations alternate within each run (order rotating); ratios are medians of per-run
ratios. The counter is checked against the writes counted: none lost.

    python bench/sqlite_writers.py                      # 5 runs, 3 s, 2 processes x 8 writers
    sudo nice -n -10 python bench/sqlite_writers.py     # on a machine busy with other work
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.REPO))
from kosha.store import database, write_turn  # noqa: E402

CONFIGS = {"one process": (1, True), "turn": (2, True), "busy handler": (2, False)}


def _unit(conn, value: str) -> None:  # type: ignore[no-untyped-def]
    conn.exec_driver_sql("INSERT INTO t(v) VALUES (?)", (value,))
    conn.exec_driver_sql("UPDATE c SET n = n + 1 WHERE id = 1")


def _process(url: str, turn: bool, writers: int, seconds: float, out: mp.Queue, go) -> None:  # type: ignore[no-untyped-def]
    """One process: `writers` coroutines writing until the time is up; reports (writes, CPU s)."""
    if not turn:
        write_turn.for_database = lambda _path: None
    db = database.Database(url)

    async def writer(stop: float, count: list[int]) -> None:
        while time.perf_counter() < stop:
            await db.write(_unit, "x" * 100)
            count[0] += 1

    async def main() -> None:
        go.wait()
        count, cpu = [0], time.process_time()
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(writer(stop, count) for _ in range(writers)))
        out.put((count[0], time.process_time() - cpu))

    asyncio.run(main())
    db.close()


def _fresh_file(tmp: Path) -> Path:
    path = tmp / f"w-{time.monotonic_ns()}" / "kosha.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("CREATE TABLE c(id INTEGER PRIMARY KEY, n INT)")
    conn.execute("INSERT INTO c VALUES (1, 0)")
    conn.commit()
    conn.close()
    return path


def measure(tmp: Path, processes: int, turn: bool, args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(writes/s in all, CPU microseconds per write) of one configuration on a fresh file."""
    path = _fresh_file(tmp)
    out: mp.Queue = mp.Queue()
    go = mp.Event()
    procs = [mp.Process(target=_process, args=(f"sqlite:///{path}", turn, args.writers,
                                               args.duration, out, go))
             for _ in range(processes)]
    for p in procs:
        p.start()
    time.sleep(1.0)   # every process has opened the database
    go.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    writes = sum(r[0] for r in results)
    conn = sqlite3.connect(path)
    counted = conn.execute("SELECT n FROM c").fetchone()[0]
    conn.close()
    if counted != writes:
        raise RuntimeError(f"{writes} writes answered, {counted} in the file")
    return writes / args.duration, 1e6 * sum(r[1] for r in results) / max(1, writes)


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers per process")
    parser.set_defaults(runs=5, duration=3.0)
    args = common.finish_args(parser.parse_args())
    common.banner(f"SQLite writers of several processes: {args.writers} writers per process, "
                  f"{args.duration:g} s per phase")
    ops: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    names = list(CONFIGS)
    with common.scratch_dir(args, "sqlite-writers-") as tmp:
        for run in range(args.runs):
            for name in names[run % 3:] + names[:run % 3]:
                w, c = measure(tmp, *CONFIGS[name], args)
                ops[name].append(w)
                cpu[name].append(c)
            print(f"   run {run + 1}: " + ", ".join(
                f"{n} {ops[n][-1]:.0f}/s ({cpu[n][-1]:.0f} us CPU/write)" for n in names), flush=True)
    rows = [common.Row(f"writes/s, one process, {args.writers} writers", common.median(ops[names[0]]),
                       "ops/s", runs=ops[names[0]])]
    for name in names[1:]:
        rows.append(common.Row(f"writes/s, 2 processes, {name}", common.median(ops[name]), "ops/s",
                               ref="one process", ratio=common.paired_ratio(ops[name], ops[names[0]]),
                               runs=ops[name]))
    rows.append(common.Row("writes/s, 2 processes, turn vs busy handler", common.median(ops["turn"]),
                           "ops/s", ref="busy handler",
                           ratio=common.paired_ratio(ops["turn"], ops["busy handler"]),
                           runs=ops["turn"]))
    for name in names:
        rows.append(common.Row(f"CPU per write, {name}", common.median(cpu[name]), "us",
                               runs=cpu[name]))
    common.print_table(rows, "medians; ratio = median of per-run ratios")
    print(common.markdown_table(rows))
    common.write_json(args.json, {"rows": [r.__dict__ for r in rows]})


if __name__ == "__main__":
    main()
