"""CPU per 4 KiB S3 GET and PUT of the server's own code, in one process, without sockets.

Raw request bytes (SigV4-signed ahead, as wrk replays them) go into the server's own protocol
class (kosha.limits: httptools, the limits, the one-write head), its ASGI stack (Observed,
CloseIfBodyUnread, S3App) and a real store (SQLite, the writer thread, fsync); 16 keep-alive
"connections" with a fake transport. What it leaves out is the kernel's share (sockets, epoll)
and the load client: its figures move far less than a server's CPU per request under wrk on a
shared machine, so a code change shows at a few percent (docs/benchmarks.md, "S3 4 KiB PUT and
GET: the server's CPU per request").

    PYTHONPATH=/path/to/checkout python bench/s3_inprocess.py [get] [put] [rget] [rput]   (N=20000 RUNS=3)
    rget / rput: the KOS REST 4 KiB download (POST .../objects/download, octet-stream) and form
    upload (PUT .../objects, multipart/form-data), bearer session, through the KOS port's stack
    THREADS=1 also prints each phase's CPU by thread (main: the event loop; python: the others)
    NOTIFY=1 configures a webhook target and gives the bucket a notification configuration for
    s3:ObjectCreated:*: each PUT records its event in the outbox (nothing delivers here, so the
    figure is the request path's own cost of an event: issue 9's "one row insert")
    PROF=name writes the last run's cProfile to bench/results/name-{get,put}.pstats
"""
import asyncio, os, sys, tempfile, time, statistics, logging, shutil
from pathlib import Path
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import loadgen  # noqa: E402
import kosha
from kosha.config import Settings
from kosha.services.container import Kosha
from kosha.s3.app import build_s3_app
from kosha.asgi import CloseIfBodyUnread
from kosha.observe import Observed
from kosha.limits import Limits, protocol_class
import uvicorn
from uvicorn.server import ServerState

AK, SK = "KOSABCDEFGHIJKLMNOPQ", "s" * 40
BUCKET = "hot"
KEYS = [f"small/k-{i:04d}" for i in range(256)]
PUTKEYS = [f"put/k-{i:04d}" for i in range(2000)]

class Transport(asyncio.Transport):
    def __init__(self, conn):
        super().__init__(); self.conn = conn; self.closing = False
    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 9000)}.get(name, default)
    def write(self, data):
        self.conn.got(data)
    def writelines(self, lines):
        for l in lines: self.write(l)
    def is_closing(self): return self.closing
    def close(self): self.closing = True
    def pause_reading(self): pass
    def resume_reading(self): pass
    def set_write_buffer_limits(self, high=None, low=None): pass
    def get_write_buffer_size(self): return 0

class Conn:
    """One keep-alive client: sends a request, waits for the full response."""
    def __init__(self, proto_cls, config, state, loop):
        self.proto = proto_cls(config=config, server_state=state, app_state={}, _loop=loop)
        self.t = Transport(self)
        self.proto.connection_made(self.t)
        self.buf = bytearray(); self.fut = None; self.want = None
    def got(self, data):
        self.buf += data
        self._check()
    def _check(self):
        if self.fut is None or self.fut.done(): return
        i = self.buf.find(b"\r\n\r\n")
        if i < 0: return
        head = bytes(self.buf[:i]).lower()
        cl = 0
        j = head.find(b"content-length:")
        if j >= 0: cl = int(head[j+15:head.find(b"\r\n", j) if head.find(b"\r\n", j) > 0 else None].strip())
        if self.method == "HEAD": cl = 0
        if len(self.buf) >= i + 4 + cl:
            status = int(head[9:12])
            body = bytes(self.buf[i+4:i+4+cl]); del self.buf[:i+4+cl]
            self.fut.set_result((status, body))
    async def request(self, raw, method):
        self.method = method
        self.fut = asyncio.get_running_loop().create_future()
        self.proto.data_received(raw)
        st, body = await self.fut
        if st >= 300:
            raise RuntimeError(f"{st} {body[:300]}")

def thread_cpu():
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            comm = open(f"/proc/self/task/{tid}/comm").read().strip()
            f = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "main" if int(tid) == os.getpid() else comm.rstrip("0123456789_")
        out[name] = out.get(name, 0) + (int(f[11]) + int(f[12])) / tick
    return out

async def phase(conns, raws, n, method):
    idx = 0
    async def worker(c):
        nonlocal idx
        while idx < n:
            i = idx; idx += 1
            await c.request(raws[i % len(raws)], method)
    t0 = time.process_time(); w0 = time.perf_counter(); c0 = thread_cpu()
    await asyncio.gather(*[worker(c) for c in conns])
    c1 = thread_cpu()
    if os.environ.get("THREADS"):
        print("    per thread us/req:", {k: round((c1[k] - c0.get(k, 0)) / n * 1e6, 1) for k in c1 if c1[k] - c0.get(k, 0) > 0})
    return (time.process_time() - t0) / n * 1e6, n / (time.perf_counter() - w0)

async def main():
    n = int(os.environ.get("N", "20000")); runs = int(os.environ.get("RUNS", "3"))
    which = sys.argv[1:] or ["get", "put"]
    kos_conns = None
    logging.basicConfig(level=logging.WARNING)
    (BENCH / "results").mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="s3-inprocess-", dir=str(BENCH / "results"))
    notify = os.environ.get("NOTIFY") == "1"
    targets = ()
    if notify:
        from kosha.notify.config import parse_targets
        targets = parse_targets(["hook=http://127.0.0.1:9/events"])
    s = Settings(data_dir=Path(tmp), root_access_key=AK, root_secret_key=SK, log_level="warning",
                 notify_targets=targets)
    k = Kosha(s); k.start()
    app = Observed(CloseIfBodyUnread(build_s3_app(k)), "s3", s.access_log)
    from kosha import server
    settle = getattr(server, "settle_heap", None)   # what `kosha serve` does at start, if it does
    limits = Limits.from_settings(s)
    cls = protocol_class(limits, "s3")
    config = uvicorn.Config(app, host="127.0.0.1", port=9000, loop="uvloop", http=cls, lifespan="off",
                            access_log=False, log_level="warning", server_header=False, proxy_headers=False)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    conns = [Conn(cls, config, state, loop) for _ in range(16)]
    base = "http://127.0.0.1:9000"
    host = "127.0.0.1:9000"
    sign = loadgen.s3_signer(AK, SK, "In-Bangalore-1", False)
    await conns[0].request(sign("PUT", base, f"/{BUCKET}", b"").raw(host), "PUT")
    if notify:
        config = ('<NotificationConfiguration><QueueConfiguration><Id>bench</Id>'
                  '<Queue>arn:kosha:sqs:In-Bangalore-1:hook:webhook</Queue>'
                  '<Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>')
        await conns[0].request(sign("PUT", base, f"/{BUCKET}?notification=", config.encode())
                               .raw(host), "PUT")
    body = b"k" * 4096
    puts = [r.raw(host) for r in loadgen.s3_requests(base, AK, SK, "PUT", BUCKET, KEYS, body, "In-Bangalore-1")]
    await phase(conns, puts, len(puts), "PUT")
    gets = [r.raw(host) for r in loadgen.s3_requests(base, AK, SK, "GET", BUCKET, KEYS, b"", "In-Bangalore-1")]
    wputs = [r.raw(host) for r in loadgen.s3_requests(base, AK, SK, "PUT", BUCKET, PUTKEYS, body, "In-Bangalore-1")]
    if {"rget", "rput"} & set(which):
        kos_conns, rgets, rputs = await kos_setup(k, s, loop, body)
    if settle is not None:
        settle()
    prof = os.environ.get("PROF")
    res = {w: [] for w in which}
    for r in range(runs):
        for w in which:
            raws, m = {"get": (gets, "GET"), "put": (wputs, "PUT")}.get(w) or (
                (rgets, "POST") if w == "rget" else (rputs, "PUT"))
            cs = kos_conns if w.startswith("r") else conns
            if prof and r == runs - 1:
                import cProfile
                pr = cProfile.Profile(); pr.enable()
                await phase(cs, raws, n, m)
                pr.disable(); pr.dump_stats(str(BENCH / "results" / f"{prof}-{w}.pstats"))
                continue
            cpu, ops = await phase(cs, raws, n, m)
            res[w].append(cpu)
            print(f"  {w} run {r+1}: {cpu:6.1f} us CPU/req  {ops:7.0f} req/s", flush=True)
    for w in which:
        if res[w]:
            print(f"{kosha.__file__.split('/kosha/')[0]} {w}: median {statistics.median(res[w]):.1f} us (runs {', '.join(f'{x:.1f}' for x in res[w])})")
    k.close()
    shutil.rmtree(tmp, ignore_errors=True)

async def kos_setup(k, s, loop, body):
    """The KOS port's stack on the same store: a session, bucket `rest`, 256 objects; the raw
    download and form upload requests (the body bench/kos_rest.py sends)."""
    import json
    from kos_rest import multipart_envelope, BOUNDARY
    from kosha.api.app import build_kos_app
    kapp = Observed(CloseIfBodyUnread(build_kos_app(k)), "kos", s.access_log)
    kcls = protocol_class(Limits.from_settings(s), "kos")
    kconfig = uvicorn.Config(kapp, host="127.0.0.1", port=8080, loop="uvloop", http=kcls,
                             lifespan="off", access_log=False, log_level="warning",
                             server_header=False, proxy_headers=False)
    kconfig.load()
    conns = [Conn(kcls, kconfig, ServerState(), loop) for _ in range(16)]
    token = (await k.sessions.activate(AK, SK)).token
    auth = {"Authorization": f"Bearer {token}"}
    host = "127.0.0.1:8080"
    api = "/kos/v1"
    await conns[0].request(loadgen.Req("POST", f"{api}/buckets", {**auth, "Content-Type": "application/json"},
                                       json.dumps({"name": "rest", "region": "In-Bangalore-1"}).encode()).raw(host), "POST")

    def upload(key):
        head, tail = multipart_envelope(key)
        return loadgen.Req("PUT", f"{api}/buckets/rest/objects",
                           {**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                           head + body + tail).raw(host)
    for key in KEYS:
        await conns[0].request(upload(key), "PUT")
    rgets = [loadgen.Req("POST", f"{api}/buckets/rest/objects/download",
                         {**auth, "Content-Type": "application/json", "Accept": "application/octet-stream"},
                         json.dumps({"objectkey": key}).encode()).raw(host) for key in KEYS]
    return conns, rgets, [upload(key) for key in PUTKEYS]

import uvloop
uvloop.run(main())
