"""Event notification delivery: throughput from the outbox to NATS and Redis, and end-to-end latency.

Each run starts a redis-server and a nats-server of its own (free loopback ports; Redis without
persistence) and a Kosha server with two targets, `r=redis://.../0?list=events` and
`n=nats://.../kosha.events`:

1. Throughput. With both brokers still down, N objects are uploaded (KOS REST, 1 KiB, 16
   clients) into a bucket configured to both targets, so N events wait in the outbox. Redis is
   started and the time from its first to its last event arriving (LLEN polled every 2 ms) gives
   the worker's drain rate; then the same for NATS (a subscriber counting messages). The
   reference, measured in the same run against the same brokers: a bare Python client
   publishing the same N messages (redis-py asyncio: RPUSH pipelined by 100, as the target does;
   nats-py: publish, flush per 100). Ratio = Kosha's drain rate / the bare client's rate.
2. Latency. Uploads paced at a steady R events/s (--rates, default 500 then 100) for D seconds
   into a bucket configured to one target, at most 48 in flight (below the server's per-address
   upload limit: a server slower than R shows as a lower achieved rate, printed beside the
   figure, and the target is then not judged); the consumer (BLPOP / a NATS subscription, in the
   same event loop as the writer) notes when each event arrives; latency = arrival - the moment
   the upload's answer was read (same host, same monotonic clock). p50 and p99 per run.

Figures are medians of --runs runs (default 3). Targets (issue 9): >= 2,000 events/s to each
broker; p99 < 100 ms at 500 events/s.

    python bench/notify_delivery.py [--runs 3] [--events 10000] [--rates 500,100] [--seconds 10] [--quick]
"""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote_plus

import common
import loadgen
from common import HOST, Row
from kos_rest import API, BOUNDARY, Kos, multipart_envelope

REGION = "In-Bangalore-1"
SUBJECT = "kosha.events"
BODY = b"k" * 1024
MAX_IN_FLIGHT = 48


class Broker:
    def __init__(self, name: str, cmd: list[str], port: int) -> None:
        self.name, self.cmd, self.port = name, cmd, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def brokers() -> tuple[Broker, Broker]:
    rp, np_ = common.free_port(), common.free_port()
    redis = Broker("redis-server", ["redis-server", "--port", str(rp), "--bind", HOST, "--save", "",
                                    "--appendonly", "no"], rp)
    nats = Broker("nats-server", ["nats-server", "-a", HOST, "-p", str(np_)], np_)
    return redis, nats


def configure(kos: Kos, bucket: str, target_ids: list[str]) -> None:
    kinds = {"r": "redis", "n": "nats"}
    st, body = kos.call("PUT", f"/buckets/{bucket}/notifications", {"configurations": [
        {"id": f"to-{t}", "type": "queue", "arn": f"arn:kosha:sqs:{REGION}:{t}:{kinds[t]}",
         "events": ["s3:ObjectCreated:*"]} for t in target_ids]})
    if st != 200:
        raise RuntimeError(f"PUT notifications -> {st}: {body}")


def upload_reqs(kos: Kos, bucket: str, keys: list[str]) -> list[loadgen.Req]:
    return kos.small_upload_reqs(bucket, keys, BODY)


# ----------------------------------------------------------------------------- throughput

def drain_redis(port: int, n: int, timeout: float) -> tuple[float | None, int]:
    import redis
    client = redis.Redis(host=HOST, port=port)
    first = last = None
    first_count = count = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = client.llen("events")
        now = time.monotonic()
        if count and first is None:
            first, first_count = now, count
        if count >= n:
            last = now
            break
        time.sleep(0.002)
    client.close()
    if first is None or last is None or last <= first:
        return None, count
    return (count - first_count) / (last - first), count


async def drain_nats(nats_broker: Broker, n: int, timeout: float) -> tuple[float | None, int]:
    import nats
    times: list[float] = []
    done = asyncio.Event()

    async def on_message(_msg) -> None:
        times.append(time.monotonic())
        if len(times) >= n:
            done.set()

    nats_broker.start()
    nc = await nats.connect(f"nats://{HOST}:{nats_broker.port}")
    await nc.subscribe(SUBJECT, cb=on_message)
    await nc.flush()
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    await nc.close()
    if len(times) < 2:
        return None, len(times)
    return (len(times) - 1) / (times[-1] - times[0]), len(times)


async def raw_redis(port: int, n: int) -> float:
    from redis.asyncio import Redis
    client = Redis(host=HOST, port=port)
    await client.delete("raw")
    body = sample_event()
    t0 = time.perf_counter()
    for start in range(0, n, 100):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(100, n - start)):
            pipe.rpush("raw", body)
        await pipe.execute()
    rate = n / (time.perf_counter() - t0)
    await client.delete("raw")
    await client.aclose()
    return rate


async def raw_nats(port: int, n: int) -> float:
    import nats
    nc = await nats.connect(f"nats://{HOST}:{port}")
    body = sample_event()
    t0 = time.perf_counter()
    for start in range(0, n, 100):
        for _ in range(min(100, n - start)):
            await nc.publish("raw.events", body)
        await nc.flush()
    rate = n / (time.perf_counter() - t0)
    await nc.close()
    return rate


_SAMPLE: list[bytes] = []


def sample_event() -> bytes:
    """An event message as the worker sends it (captured in the throughput phase), so the
    reference publishes bodies of the same size."""
    return _SAMPLE[0] if _SAMPLE else b"x" * 1100


# ----------------------------------------------------------------------------- latency

async def paced_latency(kp: common.KoshaProc, kos: Kos, bucket: str, target: str, broker: Broker,
                        rate: float, seconds: float) -> tuple[float, float, int, int, float]:
    """Uploads at `rate`/s for `seconds` (at most MAX_IN_FLIGHT at once, below the server's
    per-address upload limit, so a server slower than `rate` shows as a lower achieved rate,
    not as refusals); answers (p50 ms, p99 ms, events received, uploads, achieved uploads/s)."""
    import aiohttp
    n = int(rate * seconds)
    keys = [f"{target}-lat-{i:06d}" for i in range(n)]
    answered: dict[str, float] = {}
    arrived: dict[str, float] = {}
    all_in = asyncio.Event()

    def note(body: bytes) -> None:
        key = unquote_plus(json.loads(body)["Records"][0]["s3"]["object"]["key"])
        arrived[key] = time.monotonic()
        if len(arrived) >= n:
            all_in.set()

    stop_consumer = asyncio.Event()
    if target == "n":
        import nats
        nc = await nats.connect(f"nats://{HOST}:{broker.port}")
        async def on_message(msg) -> None:
            note(msg.data)

        await nc.subscribe(SUBJECT, cb=on_message)
        await nc.flush()
        consumer = None
    else:
        from redis.asyncio import Redis
        rc = Redis(host=HOST, port=broker.port)
        await rc.delete("events")

        async def pop() -> None:
            while not stop_consumer.is_set():
                item = await rc.blpop(["events"], timeout=0.5)
                if item:
                    note(item[1])
                    for body in await rc.lpop("events", 500) or []:
                        note(body)
        consumer = asyncio.create_task(pop())

    headers = kos.hdrs(**{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    url = f"{kp.kos_url}{API}/buckets/{bucket}/objects"
    failures = 0
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        t0 = time.monotonic() + 0.2

        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def put(i: int) -> None:
            nonlocal failures
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with in_flight:
                await send(i)

        async def send(i: int) -> None:
            nonlocal failures
            head, tail = multipart_envelope(keys[i])
            try:
                async with session.put(url, data=head + BODY + tail, headers=headers) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        statuses[str(resp.status)] = statuses.get(str(resp.status), 0) + 1
                        failures += 1
                        return
            except aiohttp.ClientError as exc:
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                failures += 1
                return
            answered[keys[i]] = time.monotonic()

        await asyncio.gather(*(put(i) for i in range(n)))
    achieved = len(answered) / max(1e-9, max(answered.values(), default=t0) - t0)
    try:
        await asyncio.wait_for(all_in.wait(), 30)
    except asyncio.TimeoutError:
        pass
    if target == "n":
        await nc.close()
    else:
        stop_consumer.set()
        await consumer
        await rc.aclose()
    lat = sorted((arrived[k] - answered[k]) * 1000 for k in answered if k in arrived)
    if failures:
        print(f"   !! {failures} uploads failed during the latency phase: {statuses}", flush=True)
    if not lat:
        return float("nan"), float("nan"), 0, n, achieved
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return statistics.median(lat), p99, len(lat), n, achieved


# ----------------------------------------------------------------------------- one run

def one_run(args, tmp: Path, run: int, R: dict) -> None:
    redis_b, nats_b = brokers()
    kp = common.kosha_server(tmp / f"data-{run}", tmp, f"kosha-{run}", extra_env={
        "KOSHA_NOTIFY_TARGETS": f"r=redis://{HOST}:{redis_b.port}/0?list=events "
                                f"n=nats://{HOST}:{nats_b.port}/{SUBJECT}"})
    try:
        kp.server.start()
        kp.load_credentials()
        kos = Kos(kp.kos_url)
        kos.activate(kp.access_key, kp.secret_key)
        for bucket, targets in (("tput", ["r", "n"]), ("lat-r", ["r"]), ("lat-n", ["n"])):
            kos.create_bucket(bucket, REGION)
            configure(kos, bucket, targets)
        n = args.events
        common.wait_quiet(args.max_wait)
        ok, fails, secs = loadgen.run_count(kp.kos_url, upload_reqs(kos, "tput", [f"t-{i:06d}" for i in range(n)]))
        if ok != n:
            raise RuntimeError(f"only {ok} of {n} uploads succeeded: {fails}")
        R["fill"].append(n / secs)
        print(f"   run {run}: {n} uploads with both targets down in {secs:.1f}s ({n / secs:,.0f}/s)",
              flush=True)
        redis_b.start()
        rate, got = drain_redis(redis_b.port, n, timeout=120)
        print(f"   run {run}: Redis drained {got}/{n} at {common.fmt(rate)} events/s", flush=True)
        if rate:
            R["redis"].append(rate)
        import redis
        client = redis.Redis(host=HOST, port=redis_b.port)
        first = client.lindex("events", 0)
        if first and not _SAMPLE:
            _SAMPLE.append(first)
        client.delete("events")
        client.close()
        rate, got = asyncio.run(drain_nats(nats_b, n, timeout=120))
        print(f"   run {run}: NATS drained {got}/{n} at {common.fmt(rate)} events/s", flush=True)
        if rate:
            R["nats"].append(rate)
        R["raw_redis"].append(asyncio.run(raw_redis(redis_b.port, n)))
        R["raw_nats"].append(asyncio.run(raw_nats(nats_b.port, n)))
        print(f"   run {run}: bare clients: Redis {R['raw_redis'][-1]:,.0f}/s, NATS "
              f"{R['raw_nats'][-1]:,.0f}/s", flush=True)
        time.sleep(3.0)   # let the worker's purge of the drained outbox finish
        for rate in args.rates:
            for target, broker in (("r", redis_b), ("n", nats_b)):
                p50, p99, got, sent, achieved = asyncio.run(paced_latency(
                    kp, kos, f"lat-{target}", target, broker, rate, args.seconds))
                name = {"r": "redis", "n": "nats"}[target]
                R.setdefault(f"p50_{name}_{rate:g}", []).append(p50)
                R.setdefault(f"p99_{name}_{rate:g}", []).append(p99)
                R.setdefault(f"rate_{name}_{rate:g}", []).append(achieved)
                print(f"   run {run}: {name} latency at {rate:g}/s (achieved {achieved:,.0f} uploads/s): "
                      f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({got}/{sent} events)", flush=True)
    finally:
        kp.server.stop()
        redis_b.stop()
        nats_b.stop()


def main() -> None:
    ap = common.base_parser("Kosha event notifications: delivery throughput and latency to NATS and Redis")
    ap.add_argument("--events", type=int, default=None, help="events in the pre-filled outbox (default 10000, 2000 with --quick)")
    ap.add_argument("--rates", default="500,100",
                    help="comma-separated events/s of the latency phases (the target is at 500)")
    ap.add_argument("--seconds", type=float, default=None, help="length of the latency phase (default 10, 3 with --quick)")
    args = common.finish_args(ap.parse_args())
    args.events = args.events or (2000 if args.quick else 10000)
    args.seconds = args.seconds or (3.0 if args.quick else 10.0)
    args.rates = [float(r) for r in args.rates.split(",") if r]
    for binary in ("redis-server", "nats-server"):
        if shutil.which(binary) is None:
            sys.exit(f"{binary} is not installed")
    common.banner(f"Notification delivery: {args.events:,} events drained to Redis and NATS; latency at "
                  f"{', '.join(f'{r:g}' for r in args.rates)} events/s for {args.seconds:g}s; "
                  f"median of {args.runs}")
    R: dict[str, list] = {k: [] for k in ("fill", "redis", "nats", "raw_redis", "raw_nats")}
    attempt = common.Attempts()
    with common.scratch_dir(args, "notify-") as tmp:
        for run in range(1, args.runs + 1):
            attempt(f"run {run}", one_run, args, tmp, run, R)
    med = {k: common.median(v) for k, v in R.items()}
    rows = [
        Row("uploads/s, both targets down (outbox fill)", med["fill"], "ops/s", runs=R["fill"]),
        Row("outbox -> Redis (list, RPUSH)", med["redis"], "events/s", runs=R["redis"],
            ref=f"bare redis-py {common.fmt(med['raw_redis'])}/s",
            ratio=common.paired_ratio(R["redis"], R["raw_redis"]), target=">= 2,000/s",
            ok=common.check(med["redis"], ">=", 2000)),
        Row("outbox -> NATS (core publish)", med["nats"], "events/s", runs=R["nats"],
            ref=f"bare nats-py {common.fmt(med['raw_nats'])}/s",
            ratio=common.paired_ratio(R["nats"], R["raw_nats"]), target=">= 2,000/s",
            ok=common.check(med["nats"], ">=", 2000)),
    ]
    for rate in args.rates:
        for name, label in (("redis", "Redis"), ("nats", "NATS")):
            key = f"{name}_{rate:g}"
            if f"p99_{key}" not in R:
                continue
            med[f"p99_{key}"] = common.median(R[f"p99_{key}"])
            achieved = common.median(R[f"rate_{key}"])
            note = (f"the server answered only {achieved:,.0f} uploads/s: latency at {rate:g}/s not reached"
                    if achieved < 0.95 * rate else "")
            rows += [
                Row(f"{label} latency p50 at {rate:g}/s", common.median(R[f"p50_{key}"]), "ms",
                    runs=R[f"p50_{key}"]),
                Row(f"{label} latency p99 at {rate:g}/s", med[f"p99_{key}"], "ms", runs=R[f"p99_{key}"],
                    ref=f"uploads/s achieved {achieved:,.0f}",
                    target="< 100 ms" if rate == 500 else "",
                    ok=common.check(med[f"p99_{key}"], "<", 100) if rate == 500 and not note else None,
                    note=note),
            ]
    common.print_table(rows, f"Notification delivery (median of {args.runs})")
    if attempt.failures:
        print("\nfailures:\n  " + "\n  ".join(attempt.failures))
    common.write_json(args.json, {"rows": rows, "runs": R, "failures": attempt.failures})


if __name__ == "__main__":
    main()
