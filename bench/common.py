"""Shared helpers for the Kosha benchmark scripts (not tests).

- free ports, starting/stopping a server process and waiting for it to be healthy
- RSS sampling of a server's process tree (/proc/<pid>/status VmRSS / VmHWM)
- plain http.client helpers for big streamed uploads and downloads
- the reference app (bench/reference_app.py) under uvicorn / granian / hypercorn
- medians of runs, result tables, the common --runs / --quick arguments

Units: MB/s and GB/s are decimal (10^6 / 10^9 bytes per second), like dd.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PY = sys.executable
MiB = 1 << 20
GiB = 1 << 30
HOST = "127.0.0.1"


# --------------------------------------------------------------------------- args

def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    p.add_argument("--quick", action="store_true",
                   help="smoke check: small sizes, short load phases, 1 run")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per small-object load phase (default 8, 2 with --quick)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent clients for small ops")
    p.add_argument("--engine", default="auto", choices=["auto", "wrk", "aiohttp"],
                   help="load client for small ops (see bench/loadgen.py)")
    p.add_argument("--tmp", default=None,
                   help="scratch dir (default: bench/results/tmp/..., on the same disk as the repo)")
    p.add_argument("--keep", action="store_true", help="keep the scratch dir and server logs")
    p.add_argument("--json", default=None, help="also write the results as JSON to this file")
    p.add_argument("--max-wait", type=float, default=180.0,
                   help="before each run, wait up to this many seconds for the (shared) "
                        "machine to be idle; 0 = don't wait")
    return p


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.quick:
        args.runs = 1 if args.runs == 3 else args.runs
    if args.duration is None:
        args.duration = 2.0 if args.quick else 8.0
    return args


@contextlib.contextmanager
def scratch_dir(args: argparse.Namespace, prefix: str) -> Iterator[Path]:
    base = Path(args.tmp).resolve() if args.tmp else BENCH_DIR / "results" / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield d
    finally:
        if args.keep:
            print(f"(kept {d})")
        else:
            shutil.rmtree(d, ignore_errors=True)
            with contextlib.suppress(OSError):
                base.rmdir()


def banner(title: str) -> None:
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"== {title}")
    rev = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cd", "--date=short"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "kosha"],
                           capture_output=True, text=True).stdout.strip()
    print(f"   Kosha at {rev or 'no commit'}"
          + (f" + {len(dirty.splitlines())} uncommitted file(s) in kosha/" if dirty else ""))
    print(f"   {now}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.machine()}, load avg {os.getloadavg()[0]:.2f}")


# --------------------------------------------------------------------------- processes

def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return idle, sum(v[:8])


def softirq_seconds() -> float:
    """CPU seconds all cores have spent in soft interrupts so far (/proc/stat): on loopback,
    most of the TCP work of both ends, which the kernel counts to neither process."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[7]) / os.sysconf("SC_CLK_TCK")


def cpu_idle(seconds: float = 1.0) -> float:
    """Fraction of all CPUs idle over the next `seconds`."""
    i0, t0 = _cpu_times()
    time.sleep(seconds)
    i1, t1 = _cpu_times()
    return (i1 - i0) / max(1, t1 - t0)


def wait_quiet(max_wait: float = 180.0, idle: float = 0.85, streak: int = 3,
               quiet: bool = False) -> float:
    """Waits until the machine has been >= `idle` idle for `streak` seconds in a row.

    The box is shared: other sessions run test suites.  Returns the seconds waited;
    prints a warning and carries on after `max_wait`.
    """
    t0 = time.monotonic()
    ok = 0
    last = 1.0
    while time.monotonic() - t0 < max_wait:
        last = cpu_idle(1.0)
        ok = ok + 1 if last >= idle else 0
        if ok >= streak:
            waited = time.monotonic() - t0 - streak
            if waited > 1 and not quiet:
                print(f"   (waited {waited:.0f}s for the machine to be idle)", flush=True)
            return waited
    print(f"   !! machine still busy after {max_wait:.0f}s (idle {last:.0%}); measuring anyway",
          flush=True)
    return max_wait


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def proc_tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU of a process tree (or, `tree` False, of the process alone) so far
    (/proc/<pid>/stat fields 14 and 15): what a request costs the server, less noisy than
    wall-clock figures on a shared machine."""
    total = 0
    for p in proc_tree(pid) if tree else [pid]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


PG_ADMIN = os.environ.get("KOSHA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/postgres")


def pg_backend_cpu(url: str | None) -> float:
    """CPU so far of the PostgreSQL backends connected to `url`'s database (0 without one):
    what Kosha's queries cost the database server, beside cpu_seconds of Kosha itself."""
    if not url:
        return 0.0
    import psycopg
    with psycopg.connect(url, autocommit=True) as c:
        pids = [r[0] for r in c.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]
    return sum(cpu_seconds(pid) for pid in pids)


@contextlib.contextmanager
def pg_scratch_database(prefix: str = "kosha_bench") -> Iterator[str]:
    """The URL of a new, empty database on the machine's PostgreSQL, dropped afterwards."""
    import psycopg
    import uuid
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _status_kib(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pids: Iterable[int]) -> int:
    return sum(_status_kib(p, "VmRSS") for p in pids)


class RssSampler:
    """Samples the summed VmRSS of a process tree every `interval` s while active.

    Also resets each process's VmHWM (echo 5 > /proc/<pid>/clear_refs) at the
    start and reads it at the end: for a single process VmHWM - baseline is the
    exact peak growth, for several it is an upper bound.
    """

    def __init__(self, root_pid: int, interval: float = 0.005):
        self.root_pid = root_pid
        self.interval = interval
        self.baseline_kib = 0
        self.peak_kib = 0
        self.hwm_growth_kib = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pids: list[int] = []
        self._base_by_pid: dict[int, int] = {}

    def __enter__(self) -> "RssSampler":
        self._pids = proc_tree(self.root_pid)
        for p in self._pids:
            with contextlib.suppress(OSError):
                with open(f"/proc/{p}/clear_refs", "w") as f:
                    f.write("5")
        self._base_by_pid = {p: _status_kib(p, "VmRSS") for p in self._pids}
        self.baseline_kib = sum(self._base_by_pid.values())
        self.peak_kib = self.baseline_kib
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            n += 1
            if n % 50 == 0:  # pick up new workers now and then
                self._pids = proc_tree(self.root_pid)
            self.peak_kib = max(self.peak_kib, rss_kib(self._pids))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        assert self._thread
        self._thread.join()
        self.peak_kib = max(self.peak_kib, rss_kib(self._pids))
        self.hwm_growth_kib = sum(
            max(0, _status_kib(p, "VmHWM") - self._base_by_pid.get(p, 0)) for p in self._pids)

    @property
    def growth_mib(self) -> float:
        """Peak growth over the baseline, MiB (the larger of sampled and VmHWM-based)."""
        return max(self.peak_kib - self.baseline_kib, self.hwm_growth_kib) / 1024


class Server:
    """A server subprocess on a free port, logs to a file, stopped on exit."""

    def __init__(self, name: str, cmd: Sequence[str], health_url: str, *,
                 env: dict | None = None, cwd: str | Path | None = None,
                 log_dir: str | Path | None = None, timeout: float = 60.0,
                 health_ok: Callable[[int], bool] = lambda s: s == 200):
        self.name, self.cmd, self.health_url = name, list(cmd), health_url
        self.env = {**os.environ, **(env or {})}
        self.cwd = str(cwd) if cwd else None
        self.timeout, self.health_ok = timeout, health_ok
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def start(self) -> "Server":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start "
                                   f"({' '.join(self.cmd)}):\n{self.log_tail()}")
            try:
                status, _ = http_simple("GET", self.health_url, timeout=2)
                if self.health_ok(status):
                    return self
                last = f"status {status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy after {self.timeout}s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ref_app_cmd(server: str, port: int, workers: int = 1) -> list[str]:
    """Command line that serves bench/reference_app.py with the given HTTP server."""
    if server == "uvicorn":
        return [PY, "-m", "uvicorn", "reference_app:app", "--app-dir", str(BENCH_DIR),
                "--host", HOST, "--port", str(port), "--loop", "uvloop", "--http", "httptools",
                "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    if server == "granian":
        return [PY, "-m", "granian", "--interface", "asgi", "--host", HOST, "--port", str(port),
                "--workers", str(workers), "--loop", "uvloop", "--http", "1", "--no-ws",
                "--log-level", "warning", "--working-dir", str(BENCH_DIR), "reference_app:app"]
    if server == "hypercorn":
        return [PY, "-m", "hypercorn", "--bind", f"{HOST}:{port}", "--workers", str(workers),
                "--worker-class", "uvloop", "--log-level", "warning", "reference_app:app"]
    raise ValueError(server)


def ref_app(server: str, data_dir: Path, log_dir: Path, name: str | None = None) -> Server:
    port = free_port()
    data_dir = Path(data_dir).resolve()   # the server runs with cwd=bench/
    data_dir.mkdir(parents=True, exist_ok=True)
    return Server(name or f"ref-{server}", ref_app_cmd(server, port),
                  f"http://{HOST}:{port}/healthz",
                  env={"REF_DATA_DIR": str(data_dir), "PYTHONPATH": str(BENCH_DIR)},
                  cwd=BENCH_DIR, log_dir=log_dir)


def port_of(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


# --------------------------------------------------------------------------- HTTP helpers

def _split(url: str) -> tuple[str, int, str]:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port), "/" + path


def http_simple(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60) -> tuple[int, bytes]:
    host, port, path = _split(url)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def http_json(method: str, url: str, obj=None, headers: dict | None = None,
              timeout: float = 120) -> tuple[int, object]:
    h = {"Content-Type": "application/json", **(headers or {})}
    status, data = http_simple(method, url, json.dumps(obj).encode() if obj is not None else None,
                               h, timeout)
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, data[:500]


# Made at import, not on first use: threads that raced to make it lazily each got their own
# block, so an object's expected MD5 could be computed over other bytes than were sent.
_PATTERN = memoryview(os.urandom(MiB))


def pattern_mib() -> memoryview:
    """A fixed 1 MiB block of random bytes (incompressible, the same for the whole process)."""
    return _PATTERN


def pattern_chunks(total: int, chunk: int = MiB) -> Iterator[memoryview]:
    """Yields `total` bytes as slices of the 1 MiB pattern (no copies)."""
    pat = pattern_mib()
    assert chunk <= MiB
    left = total
    while left > 0:
        n = min(chunk, left)
        yield pat[:n]
        left -= n


@dataclass
class Transfer:
    status: int
    nbytes: int
    seconds: float
    body: bytes = b""

    @property
    def mbps(self) -> float:
        return self.nbytes / self.seconds / 1e6


def stream_upload(url: str, chunks: Iterable[bytes | memoryview], length: int, *,
                  method: str = "PUT", headers: dict | None = None,
                  timeout: float = 600) -> Transfer:
    """Sends a body from a generator with a Content-Length; times until the response."""
    host, port, path = _split(url)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.connect()
    try:
        t0 = time.perf_counter()
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(length))
        c.endheaders()
        sock = c.sock
        for ch in chunks:
            sock.sendall(ch)
        r = c.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        return Transfer(r.status, length, dt, body)
    finally:
        c.close()


def stream_download(url: str, *, method: str = "GET", body: bytes | None = None,
                    headers: dict | None = None, bufsize: int = 4 * MiB,
                    timeout: float = 600) -> Transfer:
    """Reads the whole response into a reused buffer; times request to last byte."""
    host, port, path = _split(url)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.connect()
    buf = bytearray(bufsize)
    mv = memoryview(buf)
    try:
        t0 = time.perf_counter()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        n = 0
        if r.status != 200:
            data = r.read()
            return Transfer(r.status, len(data), time.perf_counter() - t0, data[:500])
        while True:
            k = r.readinto(mv)
            if not k:
                break
            n += k
        return Transfer(r.status, n, time.perf_counter() - t0)
    finally:
        c.close()


def dd_mbps(directory: Path, mib: int = 256) -> float:
    """dd if=/dev/zero bs=1M count=<mib> conv=fdatasync on `directory`'s disk, MB/s."""
    target = Path(directory) / "dd.tmp"
    try:
        t0 = time.perf_counter()
        subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}",
                        "conv=fdatasync"], check=True, capture_output=True)
        dt = time.perf_counter() - t0
    finally:
        with contextlib.suppress(OSError):
            target.unlink()
    return mib * MiB / dt / 1e6


def drop_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


# --------------------------------------------------------------------------- results

def median(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median of per-run ratios a[i]/b[i] when both were measured in every run (noise on a
    shared box hits both figures of one run alike); else the ratio of the medians."""
    if not a or not b:
        return None
    if len(a) == len(b):
        return median([x / y for x, y in zip(a, b) if y])
    mb = median(b)
    return median(a) / mb if mb else None


def spread(xs: Sequence[float]) -> str:
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return ""
    return f"{fmt(float(min(xs)))}..{fmt(float(max(xs)))}"


@dataclass
class Row:
    metric: str
    value: float | None
    unit: str
    ref: str = ""          # reference figure, as text
    ratio: float | None = None
    target: str = ""       # e.g. ">= 0.90x"
    ok: bool | None = None
    runs: list = field(default_factory=list)
    note: str = ""


def check(value: float | None, op: str, bound: float) -> bool | None:
    if value is None or value != value:
        return None
    return value >= bound if op == ">=" else value < bound if op == "<" else value <= bound


def fmt(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}"
    return str(v)


def print_table(rows: list[Row], title: str = "") -> None:
    if title:
        print(f"\n-- {title}")
    head = ["metric", "median", "unit", "runs (min..max)", "reference", "ratio", "target", "ok"]
    body = []
    for r in rows:
        body.append([r.metric, fmt(r.value), r.unit, spread(r.runs), r.ref,
                     "" if r.ratio is None else f"{r.ratio:.2f}x", r.target,
                     {True: "PASS", False: "MISS", None: ""}[r.ok]])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths)))
    for r in rows:
        if r.note:
            print(f"   note [{r.metric}]: {r.note}")


def write_json(path: str | None, payload: dict) -> None:
    if not path:
        return
    def conv(o):
        if isinstance(o, Row):
            return o.__dict__
        raise TypeError(type(o))
    Path(path).write_text(json.dumps(payload, indent=2, default=conv))
    print(f"(results written to {path})")


# --------------------------------------------------------------------------- Kosha

def make_root_keys() -> tuple[str, str]:
    """A valid root key pair: access key KOS + 17 of [A-Z0-9], secret 40 chars."""
    import secrets
    import string
    alnum = string.ascii_uppercase + string.digits
    ak = "KOS" + "".join(secrets.choice(alnum) for _ in range(17))
    sk = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    return ak, sk


@dataclass
class KoshaProc:
    server: Server
    port: int
    s3_port: int
    data_dir: Path
    access_key: str
    secret_key: str

    @property
    def kos_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    def load_credentials(self) -> None:
        """Prefers <data>/root-credentials.json (what the server actually uses)."""
        f = self.data_dir / "root-credentials.json"
        try:
            d = json.loads(f.read_text())
            self.access_key = d.get("access_key") or d.get("accessKey") or self.access_key
            self.secret_key = d.get("secret_key") or d.get("secretKey") or self.secret_key
        except (OSError, ValueError):
            pass


def kosha_cmd(data_dir: Path, port: int, s3_port: int) -> list[str]:
    return [PY, "-m", "kosha", "serve", "--data", str(data_dir), "--port", str(port),
            "--s3-port", str(s3_port)]


def kosha_server(data_dir: Path, log_dir: Path, name: str = "kosha",
                 extra_env: dict | None = None, timeout: float = 60) -> KoshaProc:
    """Kosha on free ports with fresh root keys (KOSHA_ROOT_*); call .server.start()."""
    port, s3_port = free_port(), free_port()
    while s3_port == port:
        s3_port = free_port()
    ak, sk = make_root_keys()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"KOSHA_ROOT_ACCESS_KEY": ak, "KOSHA_ROOT_SECRET_KEY": sk,
           "KOSHA_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO), **(extra_env or {})}
    # `python -m` puts its working directory first on sys.path: the checkout PYTHONPATH names
    # (another one, for a before/after comparison) must also be the working directory.
    srv = Server(name, kosha_cmd(data_dir, port, s3_port), f"http://{HOST}:{port}/healthz",
                 env=env, cwd=env["PYTHONPATH"], log_dir=log_dir, timeout=timeout)
    return KoshaProc(srv, port, s3_port, data_dir, ak, sk)


def export_tree(ref: str, into: Path) -> Path:
    """The kosha package of commit `ref`, unpacked under `into` (a git archive, no checkout)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", ref, "kosha"],
                          check=True, capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def kosha_ready(timeout: float = 20) -> tuple[bool, str]:
    """Can `python -m kosha serve` start and pass /healthz?  (used while the server is built)"""
    p = subprocess.run([PY, "-m", "kosha", "serve", "--help"], cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        out = (p.stderr or p.stdout or "").strip().splitlines()
        return False, out[-1] if out else f"exit {p.returncode}"
    with tempfile.TemporaryDirectory(prefix="kosha-probe-") as td:
        k = kosha_server(Path(td) / "data", Path(td), "kosha-probe", timeout=timeout)
        try:
            k.server.start()
            return True, "healthy"
        except RuntimeError as e:
            return False, str(e)[-800:]
        finally:
            k.server.stop()


def markdown_table(rows: list[Row] | list[dict]) -> str:
    """The rows as a Markdown table (for docs/benchmarks.md); accepts Row or its JSON dict."""
    out = ["| metric | median | unit | runs (min..max) | reference | ratio | target | |",
           "| --- | ---: | --- | --- | --- | ---: | --- | --- |"]
    for r in rows:
        d = r if isinstance(r, dict) else r.__dict__
        ratio = d.get("ratio")
        out.append("| " + " | ".join([
            d["metric"], fmt(d["value"]), d["unit"], spread(d.get("runs") or []), d.get("ref", ""),
            "" if ratio is None else f"{ratio:.2f}x", d.get("target", ""),
            {True: "PASS", False: "MISS", None: ""}[d.get("ok")]]) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    # python bench/common.py results.json  ->  Markdown tables of a script's --json output
    for name in sys.argv[1:]:
        data = json.loads(Path(name).read_text())
        for key, rows in data.items():
            if isinstance(rows, list) and rows and isinstance(rows[0], dict) and "metric" in rows[0]:
                print(f"\n<!-- {name}: {key} -->\n{markdown_table(rows)}")


class Attempts:
    """Runs one benchmark step, recording its failure instead of raising, so that the rest of a
    run still measures; `failures` is printed and written with the results."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, what: str, fn: Callable, *a, **kw):
        try:
            return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001
            msg = f"{what}: {str(e)[:400]}"
            self.failures.append(msg)
            print(f"  !! {msg}", flush=True)
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
            return None
