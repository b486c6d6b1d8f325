"""Instructions the writer spends recording an event (issue 9: "one row insert"), counted by
callgrind: the same on a busy machine as on a quiet one, where CPU seconds move by ±10 %.

One thread (no writer thread, no event loop: nothing whose timing changes the work) commits
4 KiB inline overwrites with `commit_version`, 16 to a transaction as the writer batches them
under load, with the batch memo and settle the writer thread uses. With `events`, each write
has a recorder as a PUT into a bucket with a notification configuration gets (one configuration,
no filter, one target; made per write as per request), so it records one outbox row. Each
variant runs twice under callgrind, with N1 and N2 writes: the difference over N2 - N1 is the
cost of one write, start-up and imports cancelled out. The reference is the write without an
event, in the same run; `--baseline DIR` counts another checkout beside this one.

    python bench/record_cost.py [--baseline /work/wt/base]     (needs valgrind; ~2 min a tree)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
N1, N2 = 320, 1280
BATCH = 16
KEYS = [f"put/k-{i:04d}" for i in range(256)]


def _writes(n: int, events: bool) -> None:
    """The measured program (run under callgrind with the tree on PYTHONPATH)."""
    from sqlalchemy import insert

    from kosha.store import objects as sql
    from kosha.store import schema as s
    from kosha.store.database import BATCH_MEMO, Database, _settle, _sqlite_engine
    tmp = tempfile.mkdtemp(prefix="record-cost-")
    url = f"sqlite:///{tmp}/meta.db"
    db = Database(url)
    db.create_schema()
    db.write_sync(lambda conn: conn.execute(insert(s.buckets).values(
        name="hot", krn="krn:kos:r:a:u:bucket:hot", account_id="a", owner="u", region="r",
        tier="t", tags={}, created_at=time.time())))
    db.close()
    recorder = _recorder_maker() if events else (lambda i: None)
    attrs = dict(content_type="application/octet-stream", storage_class="STANDARD", headers={},
                 user_meta={}, checksums={}, tags={}, acl="private", owner="root")
    content = sql.Content(size=4096, etag="0" * 32, blobs=[], inline_data=b"k" * 4096)
    conn = _sqlite_engine(url, writer=True).connect()

    def batch(first: int) -> None:
        memo: dict = {}
        conn.info[BATCH_MEMO] = memo
        with conn.begin():
            for i in range(first, first + BATCH):
                sql.commit_version(conn, "hot", KEYS[i % len(KEYS)], content, dict(attrs),
                                   1.7e9 + i, sql.Preconditions(None, None), recorder(i))
            _settle(conn, memo)

    for i in range(0, len(KEYS), BATCH):   # every key exists: each write is an overwrite
        batch(i)
    for i in range(0, n, BATCH):
        batch(i)
    conn.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _recorder_maker():
    from kosha.notify.events import Origin
    from kosha.notify.recorder import BucketInfo, Gate, Recorder
    configs = [{"id": "bench", "arn": "arn:kosha:sqs:r:hook:webhook",
                "events": ["s3:ObjectCreated:*"], "prefix": "", "suffix": ""}]
    infos = {"hot": BucketInfo("hot", "a", "r", configs)}
    gate, targets = Gate(10**9), frozenset({"hook"})
    return lambda i: Recorder(gate, infos, targets, Origin("kc-bench", "127.0.0.1", f"r{i}"),
                              1.7e9 + i)


def _instructions(tree: Path, events: bool, n: int) -> int:
    with tempfile.TemporaryDirectory(prefix="record-cost-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, __file__, "--child", str(n), "1" if events else "0"],
                       cwd=tree, env=env, check=True, capture_output=True)
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no total")


def per_write(tree: Path, events: bool, pool: ThreadPoolExecutor) -> float:
    small, large = (pool.submit(_instructions, tree, events, n) for n in (N1, N2))
    return (large.result() - small.result()) / (N2 - N1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="another checkout, counted beside this")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _writes(int(args.child[0]), args.child[1] == "1")
        return
    if shutil.which("valgrind") is None:
        sys.exit("record_cost.py needs valgrind (apt-get install valgrind)")
    trees = {"this tree": REPO}
    if args.baseline:
        trees["baseline"] = Path(args.baseline).resolve()
    print(f"== instructions per 4 KiB overwrite (commit_version, batches of {BATCH}), "
          f"callgrind, N = {N2} - {N1}", flush=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, tree in trees.items():
            plain, recorded = per_write(tree, False, pool), per_write(tree, True, pool)
            print(f"{name} ({tree}): {plain:,.0f} without an event, {recorded:,.0f} with one: "
                  f"the event costs {recorded - plain:,.0f} ({recorded / plain - 1:+.1%} "
                  f"of the write)", flush=True)


if __name__ == "__main__":
    main()
