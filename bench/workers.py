"""`kosha serve --workers 1` vs `--workers 2`: 4 KiB S3 PUT and GET ops/s, SQLite and PostgreSQL.

Issue 10's targets on this two-core machine: GET >= 1.6x one worker, PUT >= 1.3x. Each run starts
every configuration side by side (on PostgreSQL each in a database made for it), writes the 256
keys the GETs read, then drives 16 keep-alive clients with the load client of bench/loadgen.py
(wrk with a Lua script replaying pre-signed SigV4 requests: the cheapest client per request,
which matters when client and server share two cores), one configuration at a time while the
others idle. Each run measures every configuration back to back (the order rotating from run
to run), so a noisy neighbour hurts the figures of one run alike; the ratio printed is the
median of the per-run ratios to one worker.

Beside each ratio it prints the ceiling a CPU-bound two-worker run can reach on these cores,
2s/(s + c) (see `ceiling`): s the server's CPU per request with one worker, c the load client's
own (wrk's rusage) plus the soft-interrupt time per request (loopback TCP). `--threads` sets
wrk's threads (default 1, the cheapest per request: docs/benchmarks.md).

`--before REF` also runs two workers of an earlier commit's server in the same runs (its kosha
package from `git archive`), so a change to the write path is judged against the code before it
under the same noise.

`--modes reuseport,shared` also measures the two ways the supervisor can hand the ports to its
workers (kosha/supervisor.py): one SO_REUSEPORT socket per worker, or one socket for all.

    python bench/workers.py                 # 5 runs, 5 s per load phase
    python bench/workers.py --quick         # 1 run, 2 s phases
    python bench/workers.py --databases sqlite --modes reuseport,shared
    python bench/workers.py --databases sqlite --before main~3
    sudo python bench/workers.py --priority -10   # on a machine busy with other work
"""
from __future__ import annotations

import os
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402

REGION = "In-Bangalore-1"
BUCKET = "bench"
BODY = os.urandom(4096)
GET_KEYS = [f"g/{i:04d}" for i in range(256)]
PUT_KEYS = [f"p/{i:05d}" for i in range(4000)]
PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def _database(kind: str) -> tuple[dict[str, str], object]:
    """Environment for the server, and what to drop afterwards."""
    if kind == "sqlite":
        return {}, None
    import psycopg
    name = f"kosha_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return {"KOSHA_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name}, (admin, name)


def _drop(handle: object) -> None:
    if handle is not None:
        admin, name = handle  # type: ignore[misc]
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _create_keys(k: common.KoshaProc) -> None:
    """The objects the GET phase reads (plain threads: no client library beyond the stdlib)."""
    reqs = loadgen.s3_requests(k.s3_url, k.access_key, k.secret_key, "PUT", BUCKET, GET_KEYS,
                               BODY, REGION)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda r: common.http_simple(
            "PUT", k.s3_url + r.path, r.body, r.headers)[0], reqs))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"creating the GET keys: {len(bad)} answers not 200, e.g. {bad[0]}")


class Target:
    """One running server configuration, ready for the load phases."""

    def __init__(self, kind: str, workers: int, mode: str, tmp: Path,
                 before: tuple[str, Path] | None = None) -> None:
        self.kind, self.workers, self.mode = kind, workers, mode
        self.label = mode + (f", before: {before[0]}" if before else "")
        self.name = f"{kind} --workers {workers}" + (f" ({self.label})" if workers > 1 else "")
        tag = f"{kind}-{workers}-{mode}" + ("-before" if before else "")
        env, self.handle = _database(kind)
        self.db_url = env.get("KOSHA_DATABASE_URL")
        env.update({"KOSHA_WORKERS": str(workers), "KOSHA_LISTEN_MODE": mode,
                    "KOSHA_ACCESS_LOG": "off"})
        if before is not None:
            env["PYTHONPATH"] = str(before[1])
        self.k = common.kosha_server(tmp / f"data-{tag}", tmp, f"kosha-{tag}", extra_env=env)
        if before is not None:
            self.k.server.cwd = str(before[1])
        self.ops: dict[str, list[float]] = {"put": [], "get": []}
        self.cpu_ms: dict[str, list[float]] = {"put": [], "get": []}   # per request
        self.db_cpu_ms: dict[str, list[float]] = {"put": [], "get": []}   # PostgreSQL's, per request
        self.cores: dict[str, list[float]] = {"put": [], "get": []}    # CPU s per s of load
        self.client_us: dict[str, list[float]] = {"put": [], "get": []}   # wrk's, per request
        self.softirq_us: dict[str, list[float]] = {"put": [], "get": []}  # the kernel's, per request

    def start(self) -> Target:
        k = self.k
        k.server.start()
        k.load_credentials()
        create = loadgen.s3_signer(k.access_key, k.secret_key, REGION)("PUT", k.s3_url,
                                                                        f"/{BUCKET}")
        status, body = common.http_simple("PUT", k.s3_url + f"/{BUCKET}", None, create.headers)
        if status != 200:
            raise RuntimeError(f"create bucket -> {status}: {body[:200]!r}")
        _create_keys(k)
        return self

    def load(self, what: str, args) -> float:
        k = self.k
        method, keys, body = (("PUT", PUT_KEYS, BODY) if what == "put" else ("GET", GET_KEYS, b""))
        reqs = loadgen.s3_requests(k.s3_url, k.access_key, k.secret_key, method, BUCKET, keys,
                                   body, REGION)
        before, db_before = common.cpu_seconds(k.server.pid), common.pg_backend_cpu(self.db_url)
        softirq = common.softirq_seconds()
        result = loadgen.run_load(k.s3_url, reqs, args.concurrency, args.duration, args.engine,
                                  threads=args.threads)
        softirq = common.softirq_seconds() - softirq
        used = common.cpu_seconds(k.server.pid) - before
        db_used = common.pg_backend_cpu(self.db_url) - db_before
        if result.requests:
            self.cpu_ms[what].append(1000 * used / result.requests)
            self.db_cpu_ms[what].append(1000 * db_used / result.requests)
            self.cores[what].append(used / result.seconds)
            if result.client_cpu_us is not None:
                self.client_us[what].append(result.client_cpu_us)
            self.softirq_us[what].append(1e6 * softirq / result.requests)
        if result.bad_status or result.errors:
            print(f"   !! {self.name} {what}: {result.bad_status} bad statuses, "
                  f"{result.errors} errors", flush=True)
        self.ops[what].append(result.ops)
        return result.ops

    def stop(self) -> None:
        self.k.server.stop()
        _drop(self.handle)


def _against_before(kind: str, what: str, now: Target, old: Target, ref: str) -> common.Row:
    """Two workers of this tree against two workers of the earlier commit, same runs."""
    return common.Row(f"{kind} 4 KiB {what.upper()} --workers 2, this tree vs before",
                      common.median(now.ops[what]), "ops/s",
                      ref=f"{common.fmt(common.median(old.ops[what]))} ops/s (before: {ref})",
                      ratio=common.paired_ratio(now.ops[what], old.ops[what]), runs=now.ops[what])


def ceiling(one: Target, two: Target, what: str) -> tuple[float, float, float] | None:
    """How far two workers can get beyond one on this machine's cores, from CPU per request.

    One worker is one process: at best one core, `1/s` requests a second, s its CPU per
    request, while the load client and the kernel's loopback work run on the other cores. W
    workers reach at most `W/s`, and on N cores shared with the client at most `N/(s + c)`, c
    the client's CPU per request (wrk's own, from its rusage) plus the soft-interrupt time per
    request (loopback TCP, which the kernel counts to no process). So on two cores two workers
    reach at most `2s/(s + c)` times one, and every microsecond taken off the server's s lowers
    that ceiling. Returns (ceiling, client us, softirq us) from the medians of both
    configurations' phases, or None without wrk.
    """
    client = one.client_us[what] + two.client_us[what]
    if not client:
        return None
    s = 1000 * common.median(one.cpu_ms[what])
    c = common.median(client)
    k = common.median(one.softirq_us[what] + two.softirq_us[what])
    return min(two.workers, (os.cpu_count() or 2) * s / (s + c + k)), c, k


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--modes", default="reuseport",
                        help="socket hand-over modes measured with 2 workers: reuseport,shared")
    parser.add_argument("--before", default=None,
                        help="also measure two workers (reuseport) of this earlier commit")
    parser.add_argument("--priority", type=int, default=0,
                        help="nice value for this script, the servers and the load client (root "
                             "may give a negative one so that a busy shared machine's other "
                             "work does not decide the figures; PostgreSQL keeps its own)")
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (-t): one is the cheapest client per request that "
                             "still saturates a worker (docs/benchmarks.md)")
    parser.set_defaults(runs=5, duration=5.0)
    args = parser.parse_args()
    if args.quick and args.runs == 5:
        args.runs = 1
    args = common.finish_args(args)
    if args.priority:
        os.setpriority(os.PRIO_PROCESS, 0, args.priority)   # inherited by servers and wrk
    common.banner("kosha serve --workers 1 vs 2: 4 KiB S3 PUT/GET ops/s, "
                  f"{args.concurrency} clients, {args.duration:g} s phases, "
                  f"engine {loadgen.pick_engine(args.engine)}")
    modes = args.modes.split(",")
    rows = []
    with common.scratch_dir(args, "workers-") as tmp:
        before = (args.before, common.export_tree(args.before, tmp / "before")) if args.before else None
        for kind in args.databases.split(","):
            targets = [Target(kind, 1, "reuseport", tmp)] + [Target(kind, 2, m, tmp) for m in modes]
            if before is not None:
                targets.append(Target(kind, 2, "reuseport", tmp, before))
            try:
                for t in targets:
                    t.start()
                for run in range(args.runs):
                    order = targets[run % len(targets):] + targets[:run % len(targets)]
                    for what in ("put", "get"):
                        if args.max_wait:
                            common.wait_quiet(args.max_wait, quiet=True)
                        for t in order:
                            t.load(what, args)
                        print(f"   run {run + 1} {what.upper()}: " + ", ".join(
                            f"{t.name} {t.ops[what][-1]:.0f}/s ({t.cores[what][-1]:.2f} cores"
                            + (f", client {t.client_us[what][-1]:.1f} us/req"
                               if t.client_us[what] else "") + ")"
                            for t in order), flush=True)
            finally:
                for t in targets:
                    t.stop()
            one = targets[0]
            for what, target in (("put", 1.3), ("get", 1.6)):
                rows.append(common.Row(f"{kind} 4 KiB {what.upper()} --workers 1",
                                       common.median(one.ops[what]), "ops/s",
                                       runs=one.ops[what]))
                for t in targets:
                    label = t.name.split(" ", 1)[1]
                    rows.append(common.Row(f"{kind} 4 KiB {what.upper()} server CPU per request, "
                                           + label, common.median(t.cpu_ms[what]), "ms",
                                           runs=t.cpu_ms[what]))
                    if t.db_url:
                        rows.append(common.Row(f"{kind} 4 KiB {what.upper()} PostgreSQL CPU per "
                                               "request, " + label, common.median(t.db_cpu_ms[what]),
                                               "ms", runs=t.db_cpu_ms[what]))
                    rows.append(common.Row(f"{kind} 4 KiB {what.upper()} server cores busy, "
                                           + label, common.median(t.cores[what]), "cores",
                                           runs=t.cores[what]))
                for t in targets[1:]:
                    ratio = common.paired_ratio(t.ops[what], one.ops[what])
                    limit = ceiling(one, t, what)
                    rows.append(common.Row(
                        f"{kind} 4 KiB {what.upper()} --workers 2 ({t.label})",
                        common.median(t.ops[what]), "ops/s",
                        ref=f"{common.fmt(common.median(one.ops[what]))} ops/s (1 worker)",
                        ratio=ratio, target=f">= {target}x",
                        ok=common.check(ratio, ">=", target), runs=t.ops[what],
                        note="" if limit is None else
                        f"ceiling 2s/(s+c) = {limit[0]:.2f}x (c = client {limit[1]:.1f} us "
                        f"+ softirq {limit[2]:.1f} us)"))
                    if limit is not None:
                        rows.append(common.Row(
                            f"{kind} 4 KiB {what.upper()} ceiling of --workers 2 ({t.label}) "
                            "from CPU per request", limit[0], "x"))
                for t in targets:
                    label = t.name.split(" ", 1)[1]
                    if t.client_us[what]:
                        rows.append(common.Row(f"{kind} 4 KiB {what.upper()} client (wrk) CPU per "
                                               "request, " + label, common.median(t.client_us[what]),
                                               "us", runs=t.client_us[what]))
                    rows.append(common.Row(f"{kind} 4 KiB {what.upper()} soft-interrupt CPU per "
                                           "request (machine), " + label,
                                           common.median(t.softirq_us[what]), "us",
                                           runs=t.softirq_us[what]))
                if before is not None:
                    rows.append(_against_before(kind, what, targets[1], targets[-1], before[0]))
    common.print_table(rows, "medians; ratio = median of the per-run ratios 2 workers / 1 worker")
    print(common.markdown_table(rows))
    common.write_json(args.json, {"rows": [r.__dict__ for r in rows]})


if __name__ == "__main__":
    main()
