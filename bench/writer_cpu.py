"""CPU of the SQLite writer thread per small durable write, without HTTP: the figure the event
loop loses to the writer (they share one GIL).

16 coroutines await `Database.write(commit_version, ...)` of 4 KiB inline overwrites of 2,000
keys in one bucket (what a 4 KiB S3 PUT or form upload hands the writer), on the real writer
thread with `synchronous=FULL`. Prints, per run, the writer thread's CPU per write (from
/proc, user + system: its statements, its commit and its fdatasync's kernel time), the event
loop thread's (the futures and hand-overs), and the writes per commit. Alternate two trees:

    PYTHONPATH=/path/to/tree python bench/writer_cpu.py   (N=20000 RUNS=3 CLIENTS=16)
    NEW=1 writes a new key each time (an INSERT and the bucket's counts change) instead
    EVENTS=1 records each write's ObjectCreated event in the outbox too (kosha.notify.recorder),
    as a PUT into a bucket with a notification configuration does
    PROF=file also writes a cProfile (thread CPU time) of the writer thread's last run to `file`
"""
from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import insert

import kosha
from kosha import metrics
from kosha.store import objects as sql
from kosha.store import schema as s
from kosha.store.database import Database

TICK = os.sysconf("SC_CLK_TCK")
KEYS = [f"put/k-{i:04d}" for i in range(2000)]
BUCKET = "hot"
BODY = b"k" * 4096


def thread_seconds(tid: int) -> float:
    """User + system CPU of one thread of this process."""
    fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def counter(c: object) -> float:
    return float(c._value.get()) if hasattr(c, "_value") else 0.0  # type: ignore[attr-defined]


async def run(db: Database, n: int, clients: int) -> tuple[float, float, float, float]:
    """(writer us/write, loop us/write, writes per commit, writes/s) of one phase."""
    writer_tid = db._writer.native_id
    main_tid = threading.get_native_id()
    attrs = dict(content_type="application/octet-stream", storage_class="STANDARD", headers={},
                 user_meta={}, checksums={}, tags={}, acl="private", owner="root")
    content = sql.Content(size=len(BODY), etag="0" * 32, blobs=[], inline_data=BODY)
    nxt = 0
    new = os.environ.get("NEW") == "1"
    recorder = _recorder() if os.environ.get("EVENTS") == "1" else None

    async def client() -> None:
        nonlocal nxt
        while nxt < n:
            i = nxt
            nxt += 1
            key = f"new/{time.monotonic_ns()}-{i}" if new else KEYS[i % len(KEYS)]
            await db.write(sql.commit_version, BUCKET, key, content, dict(attrs),
                           time.time(), sql.Preconditions(None, None), recorder)

    c0, w0, m0 = counter(metrics.DB_COMMITS), thread_seconds(writer_tid), thread_seconds(main_tid)
    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    w1, m1, c1 = thread_seconds(writer_tid), thread_seconds(main_tid), counter(metrics.DB_COMMITS)
    return (w1 - w0) / n * 1e6, (m1 - m0) / n * 1e6, n / max(1.0, c1 - c0), n / wall


def _recorder() -> object:
    """A recorder as the notification service makes one for a PUT (one configuration, no
    filter, one target); one for the whole phase, as its per-request fields change nothing."""
    from kosha.notify.events import Origin
    from kosha.notify.recorder import BucketInfo, Gate, Recorder
    configs = [{"id": "bench", "arn": "arn:kosha:sqs:r:hook:webhook", "events": ["s3:ObjectCreated:*"],
                "prefix": "", "suffix": ""}]
    return Recorder(Gate(10**9), {BUCKET: BucketInfo(BUCKET, "a", "r", configs)},
                    frozenset({"hook"}), Origin("kc-bench", "127.0.0.1", "req"), time.time())


async def main() -> None:
    n, runs = int(os.environ.get("N", "20000")), int(os.environ.get("RUNS", "3"))
    clients = int(os.environ.get("CLIENTS", "16"))
    tmp = tempfile.mkdtemp(prefix="writer-cpu-")
    db = Database(f"sqlite:///{tmp}/meta.db")
    db.create_schema()
    db.write_sync(lambda conn: conn.execute(insert(s.buckets).values(
        name=BUCKET, krn=f"krn:kos:r:a:u:bucket:{BUCKET}", account_id="a", owner="u", region="r",
        tier="t", tags={}, created_at=time.time())))
    await run(db, len(KEYS), clients)   # every key exists: each write is an overwrite
    prof = os.environ.get("PROF")
    writer_us, loop_us = [], []
    for r in range(runs):
        if prof and r == runs - 1:
            import cProfile
            profile = cProfile.Profile(time.thread_time)
            db.write_sync(lambda _conn: profile.enable())
            await run(db, n, clients)
            db.write_sync(lambda _conn: profile.disable())
            profile.dump_stats(prof)
            continue
        w, m, per, ops = await run(db, n, clients)
        writer_us.append(w)
        loop_us.append(m)
        print(f"  run {r + 1}: writer {w:5.1f} us/write  loop {m:5.1f} us/write  "
              f"{per:4.1f} writes/commit  {ops:6.0f} writes/s", flush=True)
    where = kosha.__file__.split("/kosha/")[0]
    if writer_us:
        print(f"{where}: writer median {statistics.median(writer_us):.1f} us, "
              f"loop median {statistics.median(loop_us):.1f} us per write")
    db.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import uvloop
    uvloop.run(main())
