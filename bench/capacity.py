"""The figures of the capacity model (docs/scaling.md): what one request costs Kosha's server in
CPU, what one object costs the metadata store in rows and bytes, and what one write costs
PostgreSQL in transactions, rows and WAL; with pgbench on the same PostgreSQL as the reference.

For each store (SQLite; PostgreSQL in a scratch database on 127.0.0.1:5432) it starts a real
`kosha serve` (one worker) and measures:

1. server CPU per request (user + system CPU of the server's process tree, /proc, around each
   load phase; requests/s per core = 1 / that) for 4 KiB S3 PUT, GET, HEAD, DELETE, 1 MiB PUT
   and GET (blob store: the data directory), LIST of 1,000 keys, and KOS REST upload and download; wrk replays pre-signed requests (bench/loadgen.py)
   except for DELETE, which sends each key of the PUT phase once, and HEAD (wrk would wait for
   the body a HEAD answer announces): 16 aiohttp keep-alive clients. On PostgreSQL, also the
   CPU of its backends serving Kosha (pg_stat_activity pids, /proc). Medians of --runs;
2. PostgreSQL only: transactions, heap rows inserted / updated / deleted / locked, B-tree index
   inserts and WAL bytes per PUT (0 B, 4 KiB inline, 64 KiB + 1 in the blob store, overwrite),
   DELETE, COPY, multipart create / part / complete, read from the WAL itself (pg_walinspect,
   only this database's records: other sessions share the server);
3. metadata rows and bytes per object, table by table, indexes included, after writing --objects
   objects: 0 B with 8- and 100-character keys, 4 KiB (inline in the version row: below the
   64 KiB inline threshold, the bytes are in the database), 64 KiB + 1 (the blob store holds the
   bytes; --objects / 10 of them) and 4 KiB with 2 tags in a versioned bucket (2 versions a key);
4. listing: LISTs of 1,000 keys from the bucket that then holds 3 x --objects objects (0 B and
   4 KiB inline objects apart: a listing reads whole version rows), one client, milliseconds
   and server CPU, against the same LIST of a 1,000-key bucket;
5. pgbench on the same PostgreSQL: single-row insert transactions per second (16 clients), alone
   and with Kosha's shape (insert + the bucket's counter row updated in the same transaction).

    python bench/capacity.py                    # 20,000 objects, 3 runs of 5 s phases: ~15 min
    python bench/capacity.py --quick            # 600 objects, 1 run of 1 s phases: ~1 min
    python bench/capacity.py --stores postgres --objects 100000
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from capacity_store import Snapshot, TableSizes, Wal, WalWindow  # noqa: E402
from common import Row  # noqa: E402
from kos_rest import Kos  # noqa: E402

REGION = "In-Bangalore-1"
CPU, BIG, BLOB, VER, REST = "cap-cpu", "cap-big", "cap-blob", "cap-ver", "cap-rest"
BODY = os.urandom(4096)
BLOB_BODY = os.urandom(64 * 1024 + 1)
MIB_BODY = os.urandom(1 << 20)
READ_KEYS = [f"r/{i:06d}" for i in range(1000)]
MIB_KEYS = [f"s/{i:06d}" for i in range(32)]   # after READ_KEYS: not in the 1,000-key LIST
VERSIONING_ON = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<Status>Enabled</Status></VersioningConfiguration>")


def key_of(prefix: str, i: int, length: int = 0) -> str:
    """`prefix/000042`, or padded to `length` characters."""
    key = f"{prefix}/{i:06d}"
    return key if len(key) >= length else f"{prefix}/{'x' * (length - len(key) - 1)}{i:06d}"


class Target:
    """One running `kosha serve` on one store, and how to drive it."""

    def __init__(self, store: str, tmp: Path, pg_url: str | None) -> None:
        self.store, self.pg_url = store, pg_url
        env = {"KOSHA_ACCESS_LOG": "off"}
        if pg_url:
            env["KOSHA_DATABASE_URL"] = pg_url
        self.k = common.kosha_server(tmp / f"data-{store}", tmp, f"kosha-capacity-{store}",
                                     extra_env=env)
        self.sizes = TableSizes(pg_url, self.k.data_dir / "kosha.db")

    def start(self) -> "Target":
        self.k.server.start()
        self.k.load_credentials()
        self.signer = loadgen.s3_signer(self.k.access_key, self.k.secret_key, REGION)
        self.kos = Kos(self.k.kos_url)
        self.kos.activate(self.k.access_key, self.k.secret_key)
        return self

    def stop(self) -> None:
        self.k.server.stop()

    def sign(self, method: str, path: str, body: bytes = b"",
             headers: dict | None = None) -> loadgen.Req:
        return self.signer(method, self.k.s3_url, path, body, headers)

    def s3(self, method: str, bucket: str, keys: list[str], body: bytes = b"",
           headers: dict | None = None) -> list[loadgen.Req]:
        return [self.sign(method, f"/{bucket}/{urllib.parse.quote(k)}", body, headers)
                for k in keys]

    def exact(self, reqs: list[loadgen.Req], ok: Callable[[int], bool] = lambda s: s < 300
              ) -> list[bytes]:
        """Sends each request once (8 threads, a connection each); the bodies, in order."""
        def send(r: loadgen.Req) -> tuple[int, bytes]:
            return common.http_simple(r.method, self.k.s3_url + r.path, r.body or None, r.headers)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(send, reqs))
        bad = [(r.method, r.path, s, b[:200]) for r, (s, b) in zip(reqs, answers) if not ok(s)]
        if bad:
            raise RuntimeError(f"{len(bad)} of {len(reqs)} answers refused, e.g. {bad[0]}")
        return [b for _, b in answers]

    def bulk(self, reqs: list[loadgen.Req], base: str | None = None) -> float:
        """Sends each request once over 16 keep-alive connections; seconds taken."""
        done, fails, seconds = loadgen.run_count(base or self.k.s3_url, reqs, 16)
        if done != len(reqs):
            raise RuntimeError(f"{len(reqs) - done} of {len(reqs)} writes failed: {fails[:2]}")
        return seconds

    def cpu(self) -> float:
        return common.cpu_seconds(self.k.server.pid)

    def db_cpu(self) -> float:
        """CPU so far of the PostgreSQL backends serving Kosha (0 on SQLite, in-process)."""
        return common.pg_backend_cpu(self.pg_url)

    def make_bucket(self, name: str, versioned: bool = False) -> None:
        self.exact([self.sign("PUT", f"/{name}")])
        if versioned:
            self.exact([self.sign("PUT", f"/{name}?versioning", VERSIONING_ON)])


# --------------------------------------------------------------------------- 1. CPU per request

class Phases:
    """Server CPU per request and ops/s of each kind of request, over --runs runs."""

    def __init__(self, t: Target, args) -> None:
        self.t, self.args = t, args
        self.cpu_us: dict[str, list[float]] = {}
        self.db_us: dict[str, list[float]] = {}
        self.ops: dict[str, list[float]] = {}

    def cpu(self) -> tuple[float, float]:
        return self.t.cpu(), self.t.db_cpu()

    def record(self, name: str, requests: int, before: tuple[float, float],
               seconds: float) -> None:
        (kosha, db), n = self.cpu(), max(1, requests)
        self.cpu_us.setdefault(name, []).append((kosha - before[0]) / n * 1e6)
        self.db_us.setdefault(name, []).append((db - before[1]) / n * 1e6)
        self.ops.setdefault(name, []).append(requests / seconds if seconds else 0.0)

    def load(self, name: str, reqs: list[loadgen.Req], base: str | None = None) -> int:
        """A wrk phase of --duration seconds; the number of requests it made."""
        if self.args.max_wait:
            common.wait_quiet(self.args.max_wait, quiet=True)
        before = self.cpu()
        r = loadgen.run_load(base or self.t.k.s3_url, reqs, self.args.concurrency,
                             self.args.duration, self.args.engine)
        self.record(name, r.requests, before, r.seconds)
        if r.bad_status or r.errors:
            print(f"   !! {self.t.store} {name}: {r.bad_status} answers >= 400, "
                  f"{r.errors} socket errors", flush=True)
        return r.requests

    def once(self, name: str, reqs: list[loadgen.Req]) -> None:
        before = self.cpu()
        seconds = self.t.bulk(reqs)
        self.record(name, len(reqs), before, seconds)

    def prepare(self) -> None:
        t = self.t
        t.make_bucket(CPU)
        t.bulk(t.s3("PUT", CPU, READ_KEYS, BODY))
        t.bulk(t.s3("PUT", CPU, MIB_KEYS, MIB_BODY))
        t.kos.create_bucket(REST, REGION)
        t.bulk(t.kos.small_upload_reqs(REST, READ_KEYS[:200], BODY), t.k.kos_url)

    def run(self, run: int) -> None:
        t, args = self.t, self.args
        keys = [key_of(f"w{run}", i) for i in range(int(max(2000, args.duration * 2500)))]
        made = self.load("S3 PUT 4 KiB", t.s3("PUT", CPU, keys, BODY))
        self.once("S3 DELETE", t.s3("DELETE", CPU, keys[:min(made, len(keys))]))
        self.load("S3 GET 4 KiB", t.s3("GET", CPU, READ_KEYS))
        self.once("S3 HEAD", t.s3("HEAD", CPU, READ_KEYS * 2))   # wrk would wait for a body
        self.load("S3 PUT 1 MiB (overwrite)", t.s3("PUT", CPU, MIB_KEYS, MIB_BODY))
        self.load("S3 GET 1 MiB", t.s3("GET", CPU, MIB_KEYS))
        self.load("S3 LIST 1,000 keys", [t.sign("GET", f"/{CPU}?list-type=2&max-keys=1000")])
        self.load("REST upload 4 KiB", t.kos.small_upload_reqs(
            REST, [key_of(f"u{run}", i) for i in range(2000)], BODY), t.k.kos_url)
        self.load("REST download 4 KiB", t.kos.small_download_reqs(REST, READ_KEYS[:200]),
                  t.k.kos_url)

    def rows(self) -> list[Row]:
        out = []
        for name, cpu in self.cpu_us.items():
            per_core = 1e6 / common.median(cpu) if common.median(cpu) else None
            out.append(Row(f"{self.t.store} {name}: server CPU per request", common.median(cpu),
                           "us", runs=cpu,
                           ref=f"{common.fmt(common.median(self.ops[name]))} ops/s",
                           note=f"{common.fmt(per_core)} requests/s per core"))
            if self.t.pg_url:
                db = self.db_us[name]
                out.append(Row(f"{self.t.store} {name}: PostgreSQL CPU per request",
                               common.median(db), "us", runs=db))
        return out


# --------------------------------------------------------------------------- 2. PostgreSQL writes

def _wal_rows(label: str, wal: Wal, n: int) -> list[Row]:
    per = lambda x: x / n  # noqa: E731
    heap = lambda *k: per(wal.count("Heap", *k))  # noqa: E731
    return [Row(f"postgres {label}: write transactions per op", per(wal.commits), "xact"),
            Row(f"postgres {label}: heap rows inserted / updated / deleted / locked per op",
                heap("INSERT"), "rows",
                note=f"{heap('INSERT'):.2f} / {heap('UPDATE', 'HOT_UPDATE'):.2f} / "
                     f"{heap('DELETE'):.2f} / {heap('LOCK'):.2f}"),
            Row(f"postgres {label}: index entries inserted per op",
                per(wal.count("Btree", "INSERT_LEAF", "INSERT_UPPER", "SPLIT_L", "SPLIT_R")),
                "entries"),
            Row(f"postgres {label}: WAL bytes per op (without full-page images)",
                per(wal.bytes - wal.fpi_bytes), "B",
                note=f"full-page images: {per(wal.fpi_bytes):,.0f} B/op more")]


@contextlib.contextmanager
def measured(t: Target, rows: list[Row], label: str, n: int) -> Iterator[None]:
    """Adds the WAL written by what runs inside, per op (n ops), to `rows`."""
    with WalWindow(t.pg_url) as w:
        yield
    if w.error:
        raise RuntimeError(f"{label}: {w.error}")
    rows += _wal_rows(label, w.wal, n)
    print(f"   {label}: {w.wal.commits / n:.2f} xact, {(w.wal.bytes - w.wal.fpi_bytes) / n:,.0f}"
          f" B WAL (+{w.wal.fpi_bytes / n:,.0f} B FPI) per op", flush=True)


def pg_writes(t: Target, n: int) -> list[Row]:
    """Transactions, rows and WAL per kind of write, each batch of n ops."""
    rows: list[Row] = []
    t.make_bucket("cap-wal")
    keys = [key_of("n", i) for i in range(n)]
    for label, prefix, body in (("PUT 0 B (new key)", "z", b""),
                                ("PUT 4 KiB (new key, inline)", "n", BODY)):
        reqs = t.s3("PUT", "cap-wal", [key_of(prefix, i) for i in range(n)], body)
        with measured(t, rows, label, n):
            t.exact(reqs)
    reqs = t.s3("PUT", "cap-wal", keys, BODY)
    with measured(t, rows, "PUT 4 KiB (overwrite)", n):
        t.exact(reqs)
    few = max(5, n // 5)
    reqs = t.s3("PUT", "cap-wal", [key_of("b", i) for i in range(few)], BLOB_BODY)
    with measured(t, rows, "PUT 64 KiB + 1 (blob store)", few):
        t.exact(reqs)
    reqs = [t.sign("PUT", f"/cap-wal/{key_of('c', i)}", headers={
        "x-amz-copy-source": f"/cap-wal/{k}"}) for i, k in enumerate(keys)]
    with measured(t, rows, "COPY 4 KiB", n):
        t.exact(reqs)
    reqs = t.s3("DELETE", "cap-wal", keys)
    with measured(t, rows, "DELETE 4 KiB", n):
        t.exact(reqs)
    rows += pg_multipart(t, few)
    return rows


def pg_multipart(t: Target, n: int) -> list[Row]:
    rows: list[Row] = []
    keys = [key_of("m", i) for i in range(n)]
    reqs = [t.sign("POST", f"/cap-wal/{k}?uploads") for k in keys]
    with measured(t, rows, "multipart create", n):
        ids = [re.search(rb"<UploadId>([^<]+)</UploadId>", b).group(1).decode()
               for b in t.exact(reqs)]
    reqs = [t.sign("PUT", f"/cap-wal/{k}?partNumber=1&uploadId={u}", BODY)
            for k, u in zip(keys, ids)]
    with measured(t, rows, "multipart part 4 KiB", n):
        t.exact(reqs)
    etag = '"' + hashlib.md5(BODY).hexdigest() + '"'
    done = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>"
            "</Part></CompleteMultipartUpload>").encode()
    reqs = [t.sign("POST", f"/cap-wal/{k}?uploadId={u}", done) for k, u in zip(keys, ids)]
    with measured(t, rows, "multipart complete (1 part)", n):
        t.exact(reqs)
    return rows


# --------------------------------------------------------------------------- 3. metadata size

def scenarios(n: int) -> list[tuple[str, str, list[str], bytes, dict, int]]:
    """(label, bucket, keys, body, headers, passes): every pass writes every key once."""
    tags = {"x-amz-tagging": "project=kosha&tier=hot"}
    return [("0 B, 8-char keys", BIG, [key_of("k", i) for i in range(n)], b"", {}, 1),
            ("0 B, 100-char keys", BIG, [key_of("l", i, 100) for i in range(n)], b"", {}, 1),
            ("4 KiB inline, 8-char keys", BIG, [key_of("i", i) for i in range(n)], BODY, {}, 1),
            ("64 KiB + 1 in the blob store", BLOB, [key_of("b", i) for i in range(max(10, n // 10))],
             BLOB_BODY, {}, 1),
            ("4 KiB versioned, 2 tags, per version", VER,
             [key_of("v", i) for i in range(max(1, n // 2))], BODY, tags, 2)]


def size_rows(store: str, label: str, d: Snapshot, n: int, seconds: float) -> list[Row]:
    total = sum(d.bytes.values()) / n
    detail = ", ".join(f"{name} {d.rows[name] / n:.2f} rows {d.bytes[name] / n:,.0f} B"
                       for name in sorted(d.rows) if d.rows[name] or d.bytes[name] > 0)
    return [Row(f"{store} metadata per object, {label}", total, "B", note=detail),
            Row(f"{store} writing them ({n:,} PUTs, 16 clients)", n / seconds, "PUT/s")]


def metadata_sizes(t: Target, n: int) -> list[Row]:
    rows: list[Row] = []
    t.make_bucket(BIG)
    t.make_bucket(BLOB)
    t.make_bucket(VER, versioned=True)
    for label, bucket, keys, body, headers, passes in scenarios(n):
        before = t.sizes.snapshot()
        seconds = sum(t.bulk(t.s3("PUT", bucket, keys, body, headers)) for _ in range(passes))
        d = t.sizes.snapshot().minus(before)
        rows += size_rows(t.store, label, d, len(keys) * passes, seconds)
        print(f"   {label}: {rows[-2].value:,.0f} B per object ({rows[-2].note})", flush=True)
    return rows


# --------------------------------------------------------------------------- 4. listing

def list_latency(t: Target, bucket: str, after: list[str], reps: int) -> list[float]:
    """Milliseconds of one LIST of 1,000 keys (one client), starting after each key in turn."""
    out = []
    for i in range(reps):
        r = t.sign("GET", f"/{bucket}?list-type=2&max-keys=1000&start-after="
                          f"{urllib.parse.quote(after[i % len(after)], safe='')}")
        t0 = time.perf_counter()
        status, body = common.http_simple("GET", t.k.s3_url + r.path, None, r.headers)
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200 or body.count(b"<Key>") != 1000:
            raise RuntimeError(f"LIST {r.path} -> {status}, {body.count(b'<Key>')} keys")
    return out


def listing(t: Target, phases: Phases, n: int, reps: int) -> list[Row]:
    """LISTs of 1,000 keys deep in the big bucket, of 0-byte objects and of 4 KiB inline ones
    (a listing reads whole version rows), against the same LIST of a 1,000-object bucket."""
    small = list_latency(t, CPU, [""], reps)
    rows = []
    for prefix, what in (("k", "0 B"), ("i", "4 KiB inline")):
        after = [key_of(prefix, i) for i in range(0, max(1, n - 1000), max(1, (n - 1000) // 20))]
        large = list_latency(t, BIG, after, reps)
        name = f"S3 LIST 1,000 {what} objects of {3 * n:,}"
        phases.load(name, [t.sign("GET", f"/{BIG}?list-type=2&max-keys=1000&start-after="
                                         f"{urllib.parse.quote(a, safe='')}") for a in after])
        rows.append(Row(f"{t.store} LIST 1,000 {what} objects of a {3 * n:,}-object bucket, "
                        "one client", common.median(large), "ms", runs=large,
                        ref=f"{common.fmt(common.median(small))} ms (1,000 4 KiB objects)",
                        ratio=common.median(large) / common.median(small)))
        rows.append(Row(f"{t.store} {name}: server CPU per request",
                        common.median(phases.cpu_us[name]), "us", runs=phases.cpu_us[name]))
        if t.pg_url:
            rows.append(Row(f"{t.store} {name}: PostgreSQL CPU per request",
                            common.median(phases.db_us[name]), "us", runs=phases.db_us[name]))
    return rows


# --------------------------------------------------------------------------- 5. pgbench

PGBENCH_SETUP = """
CREATE TABLE o (seq bigserial PRIMARY KEY, bucket varchar(63) NOT NULL, key text COLLATE "C",
  version_id varchar(32), is_latest boolean, size bigint, etag varchar(80), last_modified float8);
CREATE UNIQUE INDEX ON o (bucket, key, version_id);
CREATE INDEX ON o (bucket, key, seq);
CREATE TABLE b (name text PRIMARY KEY, used bigint, n bigint);
INSERT INTO b VALUES ('b', 0, 0);
"""
PGBENCH_INSERT = """INSERT INTO o (bucket, key, version_id, is_latest, size, etag, last_modified)
  VALUES ('b', 'k/' || gen_random_uuid(), md5(random()::text), true, 4096, md5(random()::text), 0);
"""
PGBENCH_KOSHA = ("BEGIN;\n" + PGBENCH_INSERT +
                 "UPDATE b SET used = used + 4096, n = n + 1 WHERE name = 'b';\nEND;\n")


def pgbench(duration: float) -> list[Row]:
    """Commits/s of one-row insert transactions on this PostgreSQL: the reference for PUT/s."""
    rows: list[Row] = []
    with common.pg_scratch_database("kosha_pgbench") as url, \
            tempfile.TemporaryDirectory() as td:
        subprocess.run(["psql", "-q", "-d", url, "-c", PGBENCH_SETUP], check=True)
        for label, script in (("insert, 1 row per transaction", PGBENCH_INSERT),
                              ("insert + one counter row update (Kosha's PUT shape)",
                               PGBENCH_KOSHA)):
            f = Path(td) / "script.sql"
            f.write_text(script)
            with WalWindow(url) as w:
                p = subprocess.run(["pgbench", "-n", "-c", "16", "-j", "2", "-T",
                                    str(max(1, round(duration))), "-f", str(f), url],
                                   capture_output=True, text=True, check=True)
            tps = float(re.search(r"tps = ([\d.]+)", p.stdout).group(1))
            done = int(re.search(r"number of transactions actually processed: (\d+)",
                                 p.stdout).group(1))
            rows.append(Row(f"pgbench {label}, 16 clients", tps, "xact/s",
                            note=w.error or f"{(w.wal.bytes - w.wal.fpi_bytes) / done:,.0f} B "
                                            f"WAL/xact (+{w.wal.fpi_bytes / done:,.0f} B FPI)"))
    return rows


# --------------------------------------------------------------------------- main

def measure_store(store: str, tmp: Path, args, rows: list[Row]) -> None:
    """Every figure of one store, added to `rows` as measured (a failure keeps what came
    before it)."""
    with (common.pg_scratch_database() if store == "postgres"
          else contextlib.nullcontext(None)) as url:
        t = Target(store, tmp, url).start()
        try:
            phases = Phases(t, args)
            phases.prepare()
            for run in range(args.runs):
                phases.run(run)
                print(f"   {store} run {run + 1}: " + ", ".join(
                    f"{k} {v[-1]:.0f} us" for k, v in phases.cpu_us.items()), flush=True)
            rows += phases.rows()
            if url:
                rows += pg_writes(t, args.batch)
            rows += metadata_sizes(t, args.objects)
            rows += listing(t, phases, args.objects, args.list_reps)
        finally:
            t.stop()


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--objects", type=int, default=20000,
                        help="objects per metadata-size case (the listed bucket gets 3x)")
    parser.add_argument("--batch", type=int, default=500, help="ops per PostgreSQL write batch")
    parser.add_argument("--list-reps", type=int, default=21)
    parser.set_defaults(duration=5.0, max_wait=0)
    args = parser.parse_args()
    if args.quick:
        args.objects, args.batch, args.list_reps = min(args.objects, 600), 50, 5
        args.duration = 1.0
    args = common.finish_args(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # stop servers, drop databases
    common.banner(f"Capacity model figures: {args.runs} runs of {args.duration:g} s phases, "
                  f"{args.concurrency} clients, {args.objects:,} objects per case")
    rows: list[Row] = []
    attempt = common.Attempts()
    with common.scratch_dir(args, "capacity-") as tmp:
        for store in args.stores.split(","):
            attempt(store, measure_store, store, tmp, args, rows)
        if "postgres" in args.stores:
            rows += attempt("pgbench", pgbench, args.duration * 2) or []
    print(f"   load average at the end: {os.getloadavg()[0]:.2f}")
    common.print_table(rows, f"medians of {args.runs} runs where timed")
    for failure in attempt.failures:
        print(f"  FAILED {failure}")
    common.write_json(args.json, {"rows": [r.__dict__ for r in rows]})


if __name__ == "__main__":
    main()
