"""4 KiB S3 PUT ops/s with a bucket notification to a webhook configured, against the same
server setup without one, in the same run (issue 9's target: >= 90 %), and the server's CPU
time per PUT in each (utime + stime from /proc over the load phase: steadier than ops/s on a
shared machine).

Each run starts fresh servers in turn: "plain" (no target), "webhook" (a target
`hook=http://127.0.0.1:<port>/events`, the bucket configured for s3:ObjectCreated:*, and a
receiver process, bench/notify_receiver.py, a bare asyncio server answering 204: one POST per
event, the default; the receiver shares the machine's cores, its CPU per PUT is printed),
"webhook-batch" (the same with `?batch=100`: up to 100 waiting events per POST), and
"record-only" (the same configuration, but nothing listens on the target's port: the worker
backs off, so the figure is the request path's own cost, the outbox row, without delivery). The
load is 16 keep-alive clients replaying pre-signed SigV4 PUTs (bench/loadgen.py: wrk when
installed). Delivery runs in the server's delivery process (kosha.notify.process): the server's
CPU is printed whole (both processes) and split into the serving process (which bounds the PUT
rate while it is CPU-bound on one core) and the delivery process. When the load ends the script
notes the backlog (events written but not yet at the receiver: the delivery process runs at a
lower CPU priority, `--notify-nice`, so under saturation it falls behind) and waits for the
receiver to have every event: the time that takes is the drain time. Configurations alternate
within each run (a noisy neighbour hurts both alike); medians of the runs and their ratio are
printed.

With `--baseline DIR` every configuration runs also from that checkout (e.g. a worktree of
main before a change), beside this one in each run, and its figures are printed with their
ratios to its own no-notification phase. `--modes` picks the configurations. With `--nice
0,10,19` this checkout runs once per value of the delivery process's `--notify-nice`
(KOSHA_NOTIFY_NICE), side by side in each run like a baseline.

    python bench/notifications.py            # 3 runs, 8 s per load phase
    python bench/notifications.py --quick    # 1 run, 2 s
    python bench/notifications.py --baseline /work/wt/main-base --modes plain,record-only,webhook
    python bench/notifications.py --nice 0,10 --modes webhook,webhook-batch
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402

REGION = "In-Bangalore-1"
BUCKET = "bench"
BODY = bytes(range(256)) * 16          # 4 KiB
KEYS = [f"p/{i:06d}" for i in range(20000)]
CONFIG = ('<NotificationConfiguration><QueueConfiguration><Id>bench</Id>'
          f'<Queue>arn:kosha:sqs:{REGION}:hook:webhook</Queue>'
          '<Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>')


def _s3(k: common.KoshaProc, method: str, path: str, body: bytes = b"") -> None:
    req = loadgen.s3_signer(k.access_key, k.secret_key, REGION)(method, k.s3_url, path, body)
    status, answer = common.http_simple(method, k.s3_url + path, body or None, req.headers)
    if status != 200:
        raise RuntimeError(f"{method} {path} -> {status}: {answer[:300]!r}")


def _received(port: int) -> int:
    status, body = common.http_simple("GET", f"http://{common.HOST}:{port}/count")
    return int(json.loads(body)["events"]) if status == 200 else -1


MODES = {"plain": None, "record-only": "", "webhook": "", "webhook-batch": "?batch=100"}


def measure(mode: str, args, tmp: Path, tag: str, tree: Path | None = None,
            nice: str | None = None) -> dict[str, float]:
    """One load phase of `mode` on a fresh server from `tree` (None: this checkout), its
    delivery process at `nice` (None: the checkout's default)."""
    with_hook = MODES[mode] is not None
    receiver = None
    env = {"KOSHA_ACCESS_LOG": "off"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    if nice is not None:
        env["KOSHA_NOTIFY_NICE"] = nice
    port = common.free_port()
    if with_hook and mode != "record-only":
        receiver = common.Server(f"receiver-{tag}",
                                 [common.PY, str(common.BENCH_DIR / "notify_receiver.py"), str(port)],
                                 f"http://{common.HOST}:{port}/count", log_dir=tmp).start()
    if with_hook:
        env["KOSHA_NOTIFY_TARGETS"] = f"hook=http://{common.HOST}:{port}/events{MODES[mode]}"
    k = common.kosha_server(tmp / f"data-{tag}", tmp, f"kosha-{tag}", extra_env=env)
    try:
        k.server.start()
        k.load_credentials()
        _s3(k, "PUT", f"/{BUCKET}")
        if with_hook:
            _s3(k, "PUT", f"/{BUCKET}?notification=", CONFIG.encode())
        if args.max_wait:
            common.wait_quiet(args.max_wait, quiet=True)
        reqs = loadgen.s3_requests(k.s3_url, k.access_key, k.secret_key, "PUT", BUCKET, KEYS,
                                   BODY, REGION)
        cpu_before = common.cpu_seconds(k.server.pid)
        serving_before = common.cpu_seconds(k.server.pid, tree=False)
        hook_before = common.cpu_seconds(receiver.pid) if receiver is not None else 0.0
        result = loadgen.run_load(k.s3_url, reqs, args.concurrency, args.duration, args.engine)
        ended = time.monotonic()
        puts = max(1, result.requests)
        cpu_us = (common.cpu_seconds(k.server.pid) - cpu_before) / puts * 1e6
        serving_us = (common.cpu_seconds(k.server.pid, tree=False) - serving_before) / puts * 1e6
        if result.bad_status or result.errors:
            print(f"   !! {tag}: {result.bad_status} bad statuses, {result.errors} errors",
                  flush=True)
        out = {"ops": result.ops, "p99": result.p99_ms, "cpu_us": cpu_us,
               "serving_us": serving_us}
        if receiver is not None:
            out["receiver_us"] = (common.cpu_seconds(receiver.pid) - hook_before) / puts * 1e6
            written = puts + 1     # and the load generator's preflight PUT
            deadline = ended + 300
            got = _received(port)
            out["backlog"] = max(0, written - got)
            while got < written and time.monotonic() < deadline:
                time.sleep(0.02)
                got = _received(port)
            out["lag_s"] = time.monotonic() - ended
            out["delivered"] = got
            out["written"] = written
        return out
    finally:
        k.server.stop()
        if receiver is not None:
            receiver.stop()


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None,
                        help="also run every configuration from this checkout, in the same runs")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated configurations (plain is always run)")
    parser.add_argument("--nice", default=None,
                        help="comma-separated --notify-nice values to run this checkout with, "
                             "side by side (default: its own default, once)")
    args = common.finish_args(parser.parse_args())
    modes = ["plain"] + [m for m in args.modes.split(",") if m in MODES and m != "plain"]
    trees: dict[str, tuple[Path | None, str | None]] = {"": (None, None)}
    if args.nice:
        trees = {f"nice{n}": (None, n) for n in args.nice.split(",")}
    if args.baseline:
        trees["baseline"] = (Path(args.baseline).resolve(), None)
    common.banner("4 KiB S3 PUT ops/s, webhook notification vs none, "
                  f"{args.concurrency} clients, {args.duration:g} s phases, "
                  f"engine {loadgen.pick_engine(args.engine)}"
                  + (f", baseline {args.baseline}" if args.baseline else "")
                  + (f", delivery nice {args.nice}" if args.nice else ""))
    figures = {name: _Figures(modes) for name in trees}
    with common.scratch_dir(args, "notify-") as tmp:
        for run in range(args.runs):
            for mode in modes:
                for name, (tree, nice) in trees.items():   # side by side: a busy moment hurts both
                    tag = f"{mode}-{run}" + (f"-{name}" if name else "")
                    try:
                        got = measure(mode, args, tmp, tag, tree, nice)
                    except Exception as exc:   # noqa: BLE001  one failed run must not lose the rest
                        print(f"   !! {tag}: {exc}", flush=True)
                        continue
                    figures[name].add(mode, got)
                    line = (f"   run {run + 1} {(name + ' ') if name else ''}{mode:13} "
                            f"PUT {got['ops']:7.0f}/s p99 {got['p99']:.1f} ms"
                            f"  server CPU {got['cpu_us']:.0f} us/PUT"
                            f" (serving process {got['serving_us']:.0f})")
                    if "receiver_us" in got:
                        line += f" (receiver {got['receiver_us']:.0f})"
                    if "lag_s" in got:
                        line += (f"  backlog {got['backlog']} at the end, "
                                 f"{got['delivered']}/{got['written']} delivered "
                                 f"{got['lag_s']:.2f} s after")
                    print(line, flush=True)
    rows = []
    for name in trees:
        rows += figures[name].rows(modes, f"{name}: " if name else "")
    common.print_table(rows, "median of runs; ratio = with notifications / none, same run set "
                             "(for CPU: none / with, the throughput it would allow if CPU-bound)")
    print(common.markdown_table(rows))
    common.write_json(args.json, {name: f.__dict__ for name, f in figures.items()}
                      | {"rows": [r.__dict__ for r in rows]})


LABELS = {"record-only": "target down (recording only)", "webhook": "one event per POST (default)",
          "webhook-batch": "?batch=100"}


class _Figures:
    """Each mode's figures over the runs, of one checkout."""

    def __init__(self, modes: list[str]) -> None:
        self.ops: dict[str, list[float]] = {mode: [] for mode in modes}
        self.lag: dict[str, list[float]] = {mode: [] for mode in modes}
        self.backlog: dict[str, list[float]] = {mode: [] for mode in modes}
        self.cpu: dict[str, list[float]] = {mode: [] for mode in modes}
        self.serving: dict[str, list[float]] = {mode: [] for mode in modes}
        self.delivery: dict[str, list[float]] = {mode: [] for mode in modes}
        self.hook_cpu: dict[str, list[float]] = {mode: [] for mode in modes}

    def add(self, mode: str, got: dict[str, float]) -> None:
        self.ops[mode].append(got["ops"])
        self.cpu[mode].append(got["cpu_us"])
        self.serving[mode].append(got["serving_us"])
        self.delivery[mode].append(got["cpu_us"] - got["serving_us"])
        if "receiver_us" in got:
            self.hook_cpu[mode].append(got["receiver_us"])
        if "lag_s" in got:
            self.lag[mode].append(got["lag_s"])
            self.backlog[mode].append(got["backlog"])

    def rows(self, modes: list[str], prefix: str) -> list[common.Row]:
        plain = common.median(self.ops["plain"]) if self.ops["plain"] else None
        rows = [common.Row(f"{prefix}4 KiB S3 PUT, no notification", plain, "ops/s",
                           runs=self.ops["plain"]),
                _cpu_row(self.cpu, "plain", "no notification", prefix=prefix),
                _cpu_row(self.serving, "plain", "no notification", "serving process", prefix)]
        for mode in modes[1:]:
            label = LABELS[mode]
            value = common.median(self.ops[mode]) if self.ops[mode] else None
            ratio = value / plain if value and plain else None
            rows.append(common.Row(f"{prefix}4 KiB S3 PUT, webhook {label}", value, "ops/s",
                                   ref=f"{common.fmt(plain)} ops/s (none)", ratio=ratio,
                                   target=">= 0.90x", ok=common.check(ratio, ">=", 0.9),
                                   runs=self.ops[mode]))
            rows.append(_cpu_row(self.cpu, mode, label, prefix=prefix))
            rows.append(_cpu_row(self.serving, mode, label, "serving process", prefix))
            rows.append(common.Row(f"{prefix}delivery process CPU per PUT, {label}",
                                   common.median(self.delivery[mode]), "us",
                                   runs=self.delivery[mode]))
            if mode == "record-only":
                continue
            rows.append(common.Row(f"{prefix}receiver process CPU per PUT, {label}",
                                   common.median(self.hook_cpu[mode]) if self.hook_cpu[mode]
                                   else None, "us", runs=self.hook_cpu[mode],
                                   note="on the same cores as the server"))
            rows.append(common.Row(f"{prefix}backlog at the end of the load, {label}",
                                   common.median(self.backlog[mode]) if self.backlog[mode]
                                   else None, "events", runs=self.backlog[mode],
                                   note="written, not yet at the receiver"))
            rows.append(common.Row(f"{prefix}drain time after the load, {label}",
                                   common.median(self.lag[mode]) if self.lag[mode] else None, "s",
                                   runs=self.lag[mode],
                                   note="until the receiver had every event"))
        return rows


def _cpu_row(cpu: dict[str, list[float]], mode: str, label: str,
             what: str = "server", prefix: str = "") -> common.Row:
    """The server's CPU per PUT in `mode` (`what`: the server whole, or its serving process);
    ratio against no notification (inverted, so that like the ops/s ratio above 0.90 meets the
    target)."""
    value = common.median(cpu[mode]) if cpu[mode] else None
    plain = common.median(cpu["plain"]) if cpu["plain"] else None
    if mode == "plain":
        return common.Row(f"{prefix}{what} CPU per PUT, no notification", value, "us",
                          runs=cpu[mode])
    ratio = plain / value if value and plain else None
    return common.Row(f"{prefix}{what} CPU per PUT, webhook {label}", value, "us",
                      ref=f"{common.fmt(plain)} us (none)", ratio=ratio, target=">= 0.90x",
                      ok=common.check(ratio, ">=", 0.9), runs=cpu[mode])


if __name__ == "__main__":
    main()
