"""Fast load client for small-object benchmarks.

N concurrent clients (default 16) replay a list of precomputed HTTP requests for
D seconds over keep-alive connections, and report ops/s, p50 and p99 latency.
Every target (Kosha REST, Kosha S3, moto, the reference app) is driven by the same
engine with the same concurrency, so ratios compare servers, not clients.

Engines
  wrk      Debian package `wrk` (C, epoll) driven by a generated Lua script that
           cycles through raw request strings (method, path, headers, body) read
           from a file.  Default: it is by far the cheapest client per request,
           which matters on a 2-core box where client and server share the CPU.
  aiohttp  aiohttp client in 1..P separate processes (N/P clients each);
           fallback when wrk is not installed.  `--compare-engines` measures both.

S3 requests are SigV4-signed ahead of time (botocore S3SigV4Auth) and replayed;
signatures stay valid for the 15-minute clock-skew window, so sign right before
each load phase.  PUT bodies are fixed, so the real SHA-256 of the body is signed
(what boto3 does over plain http); `unsigned=True` uses UNSIGNED-PAYLOAD instead.

CLI examples
  python bench/loadgen.py http://127.0.0.1:8099/small -c 16 -d 10
  python bench/loadgen.py http://127.0.0.1:8099/small --method PUT --keys 1000
  python bench/loadgen.py http://127.0.0.1:9000/bkt --s3 AK SK --method PUT --keys 1000
  python bench/loadgen.py --compare-engines        # starts the reference app itself
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


@dataclass
class Req:
    method: str
    path: str                    # already URL-encoded, with query string
    headers: dict = field(default_factory=dict)
    body: bytes = b""

    def raw(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        has_len = False
        for k, v in self.headers.items():
            if k.lower() == "host":
                continue
            if k.lower() == "content-length":
                has_len = True
            lines.append(f"{k}: {v}")
        if self.body or self.method in ("PUT", "POST"):
            if not has_len:
                lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class LoadResult:
    engine: str
    ops: float             # completed requests per second
    p50_ms: float
    p99_ms: float
    requests: int
    seconds: float
    errors: int            # socket errors + timeouts
    bad_status: int        # responses with status >= 400
    mean_ms: float = 0.0
    max_ms: float = 0.0
    server_cpu_us: float | None = None   # the server's CPU per request (run_load's server_pid)
    client_cpu_us: float | None = None   # the load client's own CPU per request (wrk: wait4)

    def line(self) -> str:
        s = (f"{self.ops:,.0f} ops/s  p50 {self.p50_ms:.2f} ms  p99 {self.p99_ms:.2f} ms  "
             f"({self.requests} req in {self.seconds:.1f}s, {self.engine})")
        if self.errors or self.bad_status:
            s += f"  ERRORS: socket {self.errors}, status>=400 {self.bad_status}"
        return s


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def pick_engine(engine: str) -> str:
    if engine == "auto":
        return "wrk" if have_wrk() else "aiohttp"
    if engine == "wrk" and not have_wrk():
        raise SystemExit("wrk not installed: apt-get install -y wrk (or use --engine aiohttp)")
    return engine


# --------------------------------------------------------------------------- wrk engine

_LUA = r"""
local reqs = {}
do
  local f = assert(io.open(os.getenv("LOADGEN_REQS"), "rb"))
  while true do
    local line = f:read("*l")
    if not line then break end
    reqs[#reqs + 1] = f:read(tonumber(line))
  end
  f:close()
end
local nthreads = tonumber(os.getenv("LOADGEN_THREADS") or "1")
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local i = 0
function init(args)
  -- each thread starts at its own offset so PUTs of one key rarely overlap
  i = math.floor((tid or 0) * #reqs / nthreads)
end
function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LOADGEN {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%f,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


def run_wrk(base_url: str, reqs: list[Req], concurrency: int, duration: float,
            threads: int = 1) -> LoadResult:
    host, port, _ = common._split(base_url)
    hosthdr = f"{host}:{port}"
    threads = max(1, min(threads, concurrency))
    with tempfile.TemporaryDirectory(prefix="loadgen-") as td:
        data = Path(td) / "reqs.bin"
        with open(data, "wb") as f:
            for r in reqs:
                raw = r.raw(hosthdr)
                f.write(f"{len(raw)}\n".encode())
                f.write(raw)
        script = Path(td) / "replay.lua"
        script.write_text(_LUA)
        env = {**os.environ, "LOADGEN_REQS": str(data), "LOADGEN_THREADS": str(threads)}
        cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{duration:g}s",
               "--timeout", "10s", "-s", str(script), f"http://{hosthdr}/"]
        stdout, stderr, returncode, cpu = _run_measured(cmd, env, duration + 60)
    line = next((x for x in stdout.splitlines() if x.startswith("LOADGEN ")), None)
    if returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({returncode}): {stdout[-2000:]} {stderr[-2000:]}")
    d = json.loads(line[len("LOADGEN "):])
    secs = d["duration_us"] / 1e6
    return LoadResult("wrk" + (f" -t{threads}" if threads > 1 else ""),
                      d["requests"] / secs, d["p50_us"] / 1000, d["p99_us"] / 1000,
                      d["requests"], secs, d["connect"] + d["read"] + d["write"] + d["timeout"],
                      d["status"], d["mean_us"] / 1000, d["max_us"] / 1000,
                      client_cpu_us=1e6 * cpu / max(d["requests"], 1))


def _run_measured(cmd: list[str], env: dict, timeout: float) -> tuple[str, str, int, float]:
    """Runs `cmd` to its end: stdout, stderr, exit status and the CPU seconds (user + system)
    it used, from its own rusage (wait4): the client's cost per request, exact whatever else
    this process or its other children (the servers) do meanwhile."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)   # reaped here: Popen must not wait
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), p.returncode, usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- aiohttp engine

async def _aio_worker(base_url, reqs, nclients, duration, start_at, offset):
    import aiohttp
    lat: list[float] = []
    errors = bad = 0
    conn = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base_url, connector=conn, timeout=timeout,
                                     skip_auto_headers=("User-Agent", "Accept-Encoding")) as s:
        n = len(reqs)

        async def client(ci: int):
            nonlocal errors, bad
            i = (offset + ci * n // max(1, nclients)) % n
            while time.monotonic() < start_at:
                await asyncio.sleep(start_at - time.monotonic())
            end = start_at + duration
            while True:
                r = reqs[i]
                i = (i + 1) % n
                t0 = time.perf_counter()
                try:
                    async with s.request(r.method, r.path, data=r.body or None,
                                         headers=r.headers) as resp:
                        await resp.read()
                        if resp.status >= 400:
                            bad += 1
                except Exception:
                    errors += 1
                t1 = time.perf_counter()
                lat.append(t1 - t0)
                if time.monotonic() >= end:
                    break

        await asyncio.gather(*(client(i) for i in range(nclients)))
    return lat, errors, bad


def _aio_proc(args, q):
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    q.put(asyncio.run(_aio_worker(*args)))


def run_aiohttp(base_url: str, reqs: list[Req], concurrency: int, duration: float,
                processes: int = 2) -> LoadResult:
    processes = max(1, min(processes, concurrency))
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    start_at = time.monotonic() + 1.0
    per = [concurrency // processes + (1 if i < concurrency % processes else 0)
           for i in range(processes)]
    procs = [ctx.Process(target=_aio_proc,
                         args=((base_url, reqs, per[i], duration, start_at,
                                i * len(reqs) // processes), q))
             for i in range(processes)]
    for p in procs:
        p.start()
    lat: list[float] = []
    errors = bad = 0
    for _ in procs:
        lt, e, b = q.get(timeout=duration + 120)
        lat += lt
        errors += e
        bad += b
    for p in procs:
        p.join()
    lat.sort()
    n = len(lat)
    pct = lambda q_: lat[min(n - 1, int(q_ * n))] * 1000 if n else float("nan")  # noqa: E731
    # every client stops after its first request that ends past the deadline
    secs = duration + (sum(lat[-concurrency:]) / concurrency if n else 0) / 2
    return LoadResult(f"aiohttp x{processes}", n / secs, pct(0.50), pct(0.99), n, secs, errors,
                      bad, (sum(lat) / n * 1000) if n else 0.0, lat[-1] * 1000 if n else 0.0)


# --------------------------------------------------------------------------- API

def run_load(base_url: str, reqs: list[Req], concurrency: int = 16, duration: float = 8.0,
             engine: str = "auto", threads: int = 1, processes: int = 2,
             preflight: bool = True, server_pid: int | None = None) -> LoadResult:
    """Replays `reqs` round-robin from `concurrency` keep-alive clients for `duration` s.

    With `server_pid`, also the CPU time (user + system) that server's process tree spent per
    request: on a busy machine, a steadier measure of the server's cost than ops/s.
    """
    if server_pid is not None:
        before = common.cpu_seconds(server_pid)
        result = run_load(base_url, reqs, concurrency, duration, engine, threads, processes,
                          preflight)
        cpu = common.cpu_seconds(server_pid) - before
        result.server_cpu_us = 1e6 * cpu / max(result.requests, 1)
        return result
    if not reqs:
        raise ValueError("no requests")
    if preflight:
        r = reqs[0]
        status, body = common.http_simple(r.method, base_url.rstrip("/") + r.path
                                          if not r.path.startswith("http") else r.path,
                                          r.body or None, r.headers)
        if status >= 400:
            raise RuntimeError(f"preflight {r.method} {r.path} -> {status}: {body[:300]!r}")
    engine = pick_engine(engine)
    if engine == "wrk":
        return run_wrk(base_url, reqs, concurrency, duration, threads)
    return run_aiohttp(base_url, reqs, concurrency, duration, processes)


def run_count(base_url: str, reqs: list[Req], concurrency: int = 16) -> tuple[int, list, float]:
    """Sends each request exactly once (aiohttp, `concurrency` clients).

    Returns (number of 2xx, first few failures, seconds).  Used to create keys.
    """
    async def main():
        import aiohttp
        ok = 0
        fails: list = []
        it = iter(reqs)
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(base_url, connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=60)) as s:
            async def client():
                nonlocal ok
                for r in it:
                    try:
                        async with s.request(r.method, r.path, data=r.body or None,
                                             headers=r.headers) as resp:
                            body = await resp.read()
                            if resp.status < 300:
                                ok += 1
                            elif len(fails) < 5:
                                fails.append((r.path, resp.status, body[:200]))
                    except Exception as e:  # noqa: BLE001
                        if len(fails) < 5:
                            fails.append((r.path, repr(e)))
            await asyncio.gather(*(client() for _ in range(concurrency)))
        return ok, fails

    t0 = time.perf_counter()
    ok, fails = asyncio.run(main())
    return ok, fails, time.perf_counter() - t0


# --------------------------------------------------------------------------- request builders

def s3_signer(access_key: str, secret_key: str, region: str = "us-east-1",
              unsigned: bool = False):
    """Returns sign(method, base_url, path, body=b"", headers=None) -> Req (SigV4, botocore)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials

    creds = Credentials(access_key, secret_key)
    auth = S3SigV4Auth(creds, "s3", region)
    cfg = Config(s3={"payload_signing_enabled": not unsigned})

    def sign(method: str, base_url: str, path: str, body: bytes = b"",
             headers: dict | None = None) -> Req:
        h = dict(headers or {})
        req = AWSRequest(method=method, url=base_url.rstrip("/") + path, data=body, headers=h)
        req.context["client_config"] = cfg
        auth.add_auth(req)
        out = {k: v for k, v in req.headers.items() if k.lower() != "host"}
        return Req(method, path, out, body)

    return sign


def s3_requests(base_url: str, access_key: str, secret_key: str, method: str, bucket: str,
                keys: list[str], body: bytes = b"", region: str = "us-east-1",
                unsigned: bool = False) -> list[Req]:
    sign = s3_signer(access_key, secret_key, region, unsigned)
    return [sign(method, base_url, f"/{bucket}/{urllib.parse.quote(k)}", body) for k in keys]


def plain_requests(method: str, paths: list[str], body: bytes = b"",
                   headers: dict | None = None) -> list[Req]:
    return [Req(method, p, dict(headers or {}), body) for p in paths]


# --------------------------------------------------------------------------- CLI

def compare_engines(duration: float, concurrency: int, runs: int) -> None:
    """Which client drives the bare reference app fastest? (4 KiB GET and PUT)"""
    common.banner("loadgen engine comparison against the bare reference app (uvicorn)")
    (common.BENCH_DIR / "results").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="loadgen-cmp-",
                                     dir=str(common.BENCH_DIR / "results")) as td:
        srv = common.ref_app("uvicorn", Path(td) / "data", Path(td))
        with srv:
            base = srv.health_url.rsplit("/", 1)[0]
            body = b"p" * 4096
            cases = [("4 KiB GET", plain_requests("GET", ["/small"])),
                     ("4 KiB PUT", plain_requests("PUT", [f"/small/k{i}" for i in range(1000)],
                                                  body))]
            engines = []
            if have_wrk():
                engines += [("wrk -t1", dict(engine="wrk", threads=1)),
                            ("wrk -t2", dict(engine="wrk", threads=2))]
            engines += [("aiohttp x1", dict(engine="aiohttp", processes=1)),
                        ("aiohttp x2", dict(engine="aiohttp", processes=2))]
            rows = []
            for cname, reqs in cases:
                for ename, kw in engines:
                    res = []
                    for _ in range(runs):
                        common.wait_quiet()
                        res.append(run_load(base, reqs, concurrency, duration, **kw))
                    ops = [r.ops for r in res]
                    med = sorted(res, key=lambda r: r.ops)[len(res) // 2]
                    rows.append(common.Row(f"{cname} via {ename}", common.median(ops), "ops/s",
                                           runs=ops, note="" if not (med.errors or med.bad_status)
                                           else med.line()))
                    print(f"  {cname:10s} {ename:11s} {med.line()}", flush=True)
            common.print_table(rows, f"engines, {concurrency} clients, {duration:g}s, "
                                     f"median of {runs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", nargs="?", help="target URL; for PUT with --keys, /k<i> is appended")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--body-size", type=int, default=4096)
    ap.add_argument("--keys", type=int, default=0, help="cycle through this many distinct keys")
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("-d", "--duration", type=float, default=8.0)
    ap.add_argument("--engine", default="auto", choices=["auto", "wrk", "aiohttp"])
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--processes", type=int, default=2, help="aiohttp processes")
    ap.add_argument("--s3", nargs=2, metavar=("ACCESS_KEY", "SECRET_KEY"),
                    help="sign as S3 (url = http://host:port/bucket)")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--unsigned-payload", action="store_true")
    ap.add_argument("--compare-engines", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if a.compare_engines:
        compare_engines(a.duration, a.concurrency, a.runs)
        return
    if not a.url:
        ap.error("url required")
    u = urllib.parse.urlsplit(a.url)
    base = f"{u.scheme}://{u.netloc}"
    body = os.urandom(a.body_size) if a.method in ("PUT", "POST") else b""
    if a.s3:
        bucket = u.path.strip("/").split("/")[0]
        keys = [f"loadgen/k{i}" for i in range(max(1, a.keys))]
        reqs = s3_requests(base, a.s3[0], a.s3[1], a.method, bucket, keys, body, a.region,
                           a.unsigned_payload)
    else:
        path = u.path + (f"?{u.query}" if u.query else "")
        paths = [f"{path.rstrip('/')}/k{i}" for i in range(a.keys)] if a.keys else [path]
        reqs = plain_requests(a.method, paths, body)
    print(run_load(base, reqs, a.concurrency, a.duration, a.engine, a.threads,
                   a.processes).line())


if __name__ == "__main__":
    main()
