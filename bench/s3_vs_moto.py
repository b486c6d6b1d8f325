"""Kosha's S3 port vs moto_server, same client and concurrency, in one run.

Starts Kosha (`python -m kosha serve`, root keys from KOSHA_ROOT_* /
root-credentials.json), `moto_server` (PyPI moto[server]) and the bare reference
app, each on a free port, and measures as medians of --runs runs:

  256 MiB PUT / GET  MB/s   boto3 put_object (bytes body, UNSIGNED-PAYLOAD) /
                            get_object streaming with 8 MiB reads
  4 KiB PUT / GET    ops/s, p50/p99, 16 keep-alive clients, SigV4 requests
                     signed ahead (botocore) and replayed by bench/loadgen.py (wrk); the PUTs
                     overwrite 2,000 keys in turn, and a second PUT phase writes new keys only
  512 MiB multipart  8 MiB parts, 4 in flight (boto3 upload_part in 4 threads)
  ListObjectsV2      all pages over 20,000 keys (created with the fast client)
  server RSS growth  during the 256 MiB PUT

and prints Kosha/moto ratios, and the big-object figures beside the reference
app's MD5+fsync upload and 1 MiB-chunk download measured in the same run.
Targets: 4 KiB GET >= 20x moto, 4 KiB PUT >= 8x moto (issue 8), 256 MiB PUT >= 0.9x
reference, 256 MiB GET >= 1 GB/s, RSS growth < 64 MiB.

    python bench/s3_vs_moto.py [--runs 3] [--quick] [--targets kosha,moto]
    python bench/s3_vs_moto.py --only-4k --baseline /path/to/older/checkout   # before/after

`--only-4k` measures the 4 KiB PUT and GET phases alone; `--baseline DIR` adds Kosha from that
checkout ("Kosha base") to the same runs, the targets' order reversed every other run.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from common import MiB, Row  # noqa: E402

BUCKET = "bench-bucket"
KOSHA_REGION = "In-Bangalore-1"
NEW_KEYS_PER_SECOND = 7000   # more than any server here writes: no new key comes round twice


@dataclass
class Target:
    name: str
    url: str
    access_key: str
    secret_key: str
    region: str
    pid: int
    client: object = None
    res: dict = field(default_factory=dict)
    lat: dict = field(default_factory=dict)

    def add(self, key: str, v) -> None:
        self.res.setdefault(key, []).append(v)


def boto_client(t: Target):
    import boto3
    from botocore.config import Config
    cfg = Config(region_name=t.region, signature_version="s3v4",
                 s3={"addressing_style": "path", "payload_signing_enabled": False},
                 request_checksum_calculation="when_required",
                 response_checksum_validation="when_required",
                 retries={"max_attempts": 1, "mode": "standard"},
                 max_pool_connections=16, connect_timeout=10, read_timeout=600)
    return boto3.client("s3", endpoint_url=t.url, aws_access_key_id=t.access_key,
                        aws_secret_access_key=t.secret_key, config=cfg)


def create_bucket(t: Target, kos_url: str | None) -> None:
    c = t.client
    errs = []
    kwargs = [{}]
    if t.region != "us-east-1":
        kwargs.insert(0, {"CreateBucketConfiguration": {"LocationConstraint": t.region}})
    for kw in kwargs:
        try:
            c.create_bucket(Bucket=BUCKET, **kw)
            return
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e)[:300])
    if kos_url:  # fall back to the KOS REST API
        from kos_rest import Kos
        k = Kos(kos_url)
        k.activate(t.access_key, t.secret_key)
        k.create_bucket(BUCKET, t.region)
        print(f"  ({t.name}: S3 CreateBucket failed: {errs[0]}; created over KOS REST)")
        return
    raise RuntimeError("; ".join(errs))


def put_big(t: Target, key: str, data: bytes) -> float:
    t0 = time.perf_counter()
    t.client.put_object(Bucket=BUCKET, Key=key, Body=data)
    return len(data) / (time.perf_counter() - t0) / 1e6


def get_big(t: Target, key: str, size: int) -> float:
    t0 = time.perf_counter()
    r = t.client.get_object(Bucket=BUCKET, Key=key)
    body = r["Body"]
    n = 0
    while chunk := body.read(8 * MiB):
        n += len(chunk)
    dt = time.perf_counter() - t0
    if n != size:
        raise RuntimeError(f"GET returned {n} bytes, expected {size}")
    return size / dt / 1e6


def multipart(t: Target, key: str, total: int, part: bytes, parallel: int = 4) -> float:
    c = t.client
    nparts = total // len(part)
    t0 = time.perf_counter()
    up = c.create_multipart_upload(Bucket=BUCKET, Key=key)
    uid = up["UploadId"]

    def one(i: int):
        r = c.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=i, Body=part)
        return {"PartNumber": i, "ETag": r["ETag"]}

    try:
        with ThreadPoolExecutor(parallel) as ex:
            parts = list(ex.map(one, range(1, nparts + 1)))
        c.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid,
                                    MultipartUpload={"Parts": parts})
    except Exception:
        try:
            c.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid)
        except Exception:  # noqa: BLE001
            pass
        raise
    dt = time.perf_counter() - t0
    head = c.head_object(Bucket=BUCKET, Key=key)
    if head["ContentLength"] != total:
        raise RuntimeError(f"multipart object is {head['ContentLength']} B, expected {total}")
    return total / dt / 1e6


def list_all(t: Target, prefix: str, expect: int) -> float:
    pag = t.client.get_paginator("list_objects_v2")
    t0 = time.perf_counter()
    n = 0
    for page in pag.paginate(Bucket=BUCKET, Prefix=prefix):
        n += len(page.get("Contents", []))
    dt = time.perf_counter() - t0
    if n != expect:
        raise RuntimeError(f"listed {n} keys under {prefix!r}, expected {expect}")
    return dt


def list_all_raw(t: Target, prefix: str, expect: int) -> float:
    """The same listing over one keep-alive http.client connection, signed per page, without
    botocore's XML parsing: roughly the server's share of the boto3 figure."""
    import http.client
    import re
    import urllib.parse
    sign = loadgen.s3_signer(t.access_key, t.secret_key, t.region)
    c = http.client.HTTPConnection(common.HOST, common.port_of(t.url), timeout=120)
    n = 0
    token = None
    t0 = time.perf_counter()
    try:
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            qs = urllib.parse.urlencode(sorted(q.items()), quote_via=urllib.parse.quote)
            r = sign("GET", t.url, f"/{BUCKET}?{qs}")
            c.request("GET", r.path, headers=r.headers)
            resp = c.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"ListObjectsV2 -> {resp.status}: {body[:300]!r}")
            n += body.count(b"<Key>")
            m = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
            if not m or b"<IsTruncated>true</IsTruncated>" not in body:
                break
            token = m.group(1).decode().replace("&amp;", "&")
    finally:
        c.close()
    dt = time.perf_counter() - t0
    if n != expect:
        raise RuntimeError(f"raw listing saw {n} keys under {prefix!r}, expected {expect}")
    return dt


def main() -> None:
    ap = common.base_parser("Kosha S3 vs moto_server")
    ap.add_argument("--targets", default="kosha,moto")
    ap.add_argument("--list-keys", type=int, default=None, help="default 20000 (2000 with --quick)")
    ap.add_argument("--moto-cmd", default=None, help="override the moto_server command")
    ap.add_argument("--only-4k", action="store_true",
                    help="only the 4 KiB PUT and GET phases (no big objects, multipart, listing)")
    ap.add_argument("--baseline", default=None,
                    help="also measure Kosha from this older checkout in the same runs")
    args = common.finish_args(ap.parse_args())
    size = (32 if args.quick else 256) * MiB
    mp_total = (64 if args.quick else 512) * MiB
    nlist = args.list_keys or (2000 if args.quick else 20000)
    conc, dur = args.concurrency, args.duration
    names = [n for n in args.targets.split(",") if n]
    if args.baseline and "kosha" in names:
        names.append("kosha-base")
    small = args.only_4k
    common.banner("Kosha S3 vs moto: " + ("" if small else f"{size // MiB} MiB PUT/GET, ")
                  + f"4 KiB x {conc} clients x {dur:g}s ({loadgen.pick_engine(args.engine)})"
                  + ("" if small else f", {mp_total // MiB} MiB multipart (8 MiB x 4), list "
                     f"{nlist} keys") + (f", baseline {args.baseline}" if args.baseline else "")
                  + f", median of {args.runs}")
    attempt = common.Attempts()
    failures = attempt.failures

    data = b"".join(bytes(c) for c in common.pattern_chunks(size))
    part = data[:8 * MiB] if len(data) >= 8 * MiB else (data * (8 * MiB // len(data) + 1))[:8 * MiB]
    body4k = os.urandom(4096)
    ref_res: dict[str, list] = {"up": [], "down": []}

    with common.scratch_dir(args, "s3-moto-") as tmp:
        servers: list[common.Server] = []
        targets: list[Target] = []
        kos_urls: dict[str, str] = {}
        try:
            if not small:
                ref = common.ref_app("uvicorn", tmp / "ref", tmp, "ref-uvicorn").start()
                servers.append(ref)
                rb = ref.health_url.rsplit("/", 1)[0]
            for name in names:
                if name in ("kosha", "kosha-base"):
                    env = {"PYTHONPATH": str(Path(args.baseline).resolve())} \
                        if name == "kosha-base" else None
                    kp = common.kosha_server(tmp / name, tmp, name, env)
                    try:
                        kp.server.start()
                    except RuntimeError as e:
                        failures.append(f"kosha serve: {str(e)[:400]}")
                        print(f"  !! {failures[-1]}", flush=True)
                        continue
                    servers.append(kp.server)
                    kp.load_credentials()
                    kos_urls[name] = kp.kos_url
                    targets.append(Target(name, kp.s3_url, kp.access_key, kp.secret_key,
                                          KOSHA_REGION, kp.server.pid))
                elif name == "moto":
                    port = common.free_port()
                    cmd = (args.moto_cmd.split() if args.moto_cmd else
                           [common.PY, "-m", "moto.server", "-H", common.HOST, "-p", str(port)])
                    srv = common.Server("moto", cmd, f"http://{common.HOST}:{port}/",
                                        log_dir=tmp, health_ok=lambda s: s < 500).start()
                    servers.append(srv)
                    targets.append(Target("moto", f"http://{common.HOST}:{port}", "testing",
                                          "testing", "us-east-1", srv.pid))
            ready: list[Target] = []
            for t in targets:
                t.client = boto_client(t)
                if attempt(f"{t.name}: create bucket", create_bucket, t,
                           kos_urls.get(t.name)) is not None or \
                        _bucket_exists(t):
                    ready.append(t)
            targets = ready
            # 4 KiB objects to GET, and the keys to list
            get_keys = [f"small/g-{i:04d}" for i in range(256)]
            list_keys = [f"list/k-{i:06d}" for i in range(nlist)]
            for t in targets:
                for what, keys, body in (("4 KiB GET keys", get_keys, body4k),
                                         (f"{nlist} list keys", list_keys, b"x" * 16))[:1 + (not small)]:
                    reqs = loadgen.s3_requests(t.url, t.access_key, t.secret_key, "PUT", BUCKET,
                                               keys, body, t.region)
                    made = attempt(f"{t.name}: create {what}", loadgen.run_count, t.url, reqs, conc)
                    if made:
                        print(f"  {t.name}: created {made[0]}/{len(keys)} {what} in "
                              f"{made[2]:.1f}s ({made[0] / made[2]:.0f}/s)", flush=True)
                        if made[0] != len(keys):
                            failures.append(f"{t.name}: create {what}: {made[0]}/{len(keys)}, "
                                            f"e.g. {made[1][:2]}")
                        t.res["_created_" + what.split()[-2]] = made[0]

            for run in range(args.runs):
                if args.max_wait:
                    common.wait_quiet(args.max_wait)
                if not small:
                    os.sync()
                    tr = common.stream_upload(f"{rb}/upload/big", common.pattern_chunks(size), size)
                    assert tr.status == 200, tr.body
                    ref_res["up"].append(tr.mbps)
                    tr = common.stream_download(f"{rb}/file/big")
                    ref_res["down"].append(tr.mbps)
                for t in (targets if run % 2 == 0 else targets[::-1]):
                    if args.max_wait:
                        common.wait_quiet(args.max_wait)
                    os.sync()
                    if not small:
                        big_put_get(t, attempt, data, size)
                    sign_puts = loadgen.s3_requests(
                        t.url, t.access_key, t.secret_key, "PUT", BUCKET,
                        [f"small/u-{i:04d}" for i in range(2000)], body4k, t.region)
                    r = attempt(f"{t.name}: 4 KiB PUT load", loadgen.run_load, t.url, sign_puts,
                                conc, dur, args.engine, server_pid=t.pid)
                    if r:
                        t.add("put4k", r.ops)
                        t.add("put4k_cpu", r.server_cpu_us)
                        t.lat.setdefault("4 KiB PUT", []).append(r)
                    new_keys = [f"small/n{run}-{i:06d}" for i in range(int(dur * NEW_KEYS_PER_SECOND))]
                    r = attempt(f"{t.name}: 4 KiB PUT load, new keys", loadgen.run_load, t.url,
                                loadgen.s3_requests(t.url, t.access_key, t.secret_key, "PUT",
                                                    BUCKET, new_keys, body4k, t.region),
                                conc, dur, args.engine, server_pid=t.pid)
                    if r:
                        if r.requests > len(new_keys):
                            print(f"  !! {t.name}: new keys came round ({r.requests} PUTs)")
                        t.add("putnew", r.ops)
                        t.lat.setdefault("4 KiB PUT, new keys", []).append(r)
                    sign_gets = loadgen.s3_requests(t.url, t.access_key, t.secret_key, "GET",
                                                    BUCKET, get_keys, b"", t.region)
                    r = attempt(f"{t.name}: 4 KiB GET load", loadgen.run_load, t.url, sign_gets,
                                conc, dur, args.engine, server_pid=t.pid)
                    if r:
                        t.add("get4k", r.ops)
                        t.add("get4k_cpu", r.server_cpu_us)
                        t.lat.setdefault("4 KiB GET", []).append(r)
                    if small:
                        print(f"  run {run + 1} {t.name:10s}: put4k {t.res['put4k'][-1]:.4g} "
                              f"get4k {t.res['get4k'][-1]:.4g}", flush=True)
                        continue
                    os.sync()
                    v = attempt(f"{t.name}: multipart {mp_total // MiB} MiB", multipart, t,
                                "multi.bin", mp_total, part)
                    if v is not None:
                        t.add("mpu", v)
                    if t.res.get("_created_list") == nlist:
                        v = attempt(f"{t.name}: ListObjectsV2", list_all, t, "list/", nlist)
                        if v is not None:
                            t.add("list", v)
                        v = attempt(f"{t.name}: ListObjectsV2 (raw)", list_all_raw, t, "list/",
                                    nlist)
                        if v is not None:
                            t.add("listraw", v)
                    print(f"  run {run + 1} {t.name:5s}: " + "  ".join(
                        f"{k} {t.res[k][-1]:.4g}" for k in ("put", "get", "put4k", "get4k", "mpu",
                                                            "list", "listraw", "rss")
                        if t.res.get(k)) +
                          f"  | ref up {ref_res['up'][-1]:.0f} down {ref_res['down'][-1]:.0f}",
                          flush=True)
        finally:
            for s in reversed(servers):
                s.stop()
            for s in servers:
                if s.name.startswith("kosha"):
                    errs = [ln for ln in s.log_tail(400).splitlines()
                            if "Traceback" in ln or "ERROR" in ln]
                    if errs:
                        print(f"  kosha log: {len(errs)} error lines, last: {errs[-1][:200]}")

    by = {t.name: t for t in targets}
    rows = table(by, ref_res, size, mp_total, nlist, small)
    common.print_table(rows, f"S3: Kosha vs moto (median of {args.runs}; MB/s = 10^6 B/s; "
                             "RSS = max over runs)")
    for t in targets:
        for name, rs in t.lat.items():
            print(f"   {t.name:5s} {name:10s} p50 {common.median([r.p50_ms for r in rs]):6.2f} ms"
                  f"   p99 {common.median([r.p99_ms for r in rs]):6.2f} ms   "
                  f"errors {sum(r.errors for r in rs)}, status>=400 "
                  f"{sum(r.bad_status for r in rs)}")
    if failures:
        print("\nFailed calls:")
        for f in failures:
            print(f"  - {f}")
    common.write_json(args.json, {"rows": rows, "failures": failures})


def big_put_get(t: Target, attempt: common.Attempts, data: bytes, size: int) -> None:
    with common.RssSampler(t.pid) as rs:
        v = attempt(f"{t.name}: PUT {size // MiB} MiB", put_big, t, "big.bin", data)
    if v is not None:
        t.add("put", v)
        t.add("rss", rs.growth_mib)
        v = attempt(f"{t.name}: GET {size // MiB} MiB", get_big, t, "big.bin", size)
        if v is not None:
            t.add("get", v)


def _bucket_exists(t: Target) -> bool:
    try:
        t.client.head_bucket(Bucket=BUCKET)
        return True
    except Exception:  # noqa: BLE001
        return False


def table(by: dict, ref_res: dict, size: int, mp_total: int, nlist: int,
          small: bool = False) -> list[Row]:
    k, m, b = by.get("kosha"), by.get("moto"), by.get("kosha-base")
    med = lambda t, key: common.median(t.res[key]) if t and t.res.get(key) else None  # noqa: E731

    def ratio(a, b):
        return a / b if a is not None and b else None

    def pratio(key_a, t_a, key_b, t_b):
        """Median of per-run ratios (see common.paired_ratio)."""
        xa = t_a.res.get(key_a, []) if t_a else []
        xb = t_b.res.get(key_b, []) if t_b else []
        return common.paired_ratio(xa, xb)

    big = f"{size // MiB} MiB"
    if small:
        rows: list[Row] = []
        for key, label, unit, target, higher in (
                ("get4k", "4 KiB GET", "ops/s", 20, True), ("put4k", "4 KiB PUT", "ops/s", 8, True),
                ("putnew", "4 KiB PUT, new keys", "ops/s", None, True),
                ("get4k_cpu", "4 KiB GET, server CPU/request", "us", None, False),
                ("put4k_cpu", "4 KiB PUT, server CPU/request", "us", None, False)):
            rows.append(Row(f"moto        {label}", med(m, key), unit,
                            runs=m.res.get(key, []) if m else []))
            for t, name in ((b, "Kosha base"), (k, "Kosha     ")):
                if t is None:
                    continue
                r = pratio(key, t, key, m) if higher else pratio(key, m, key, t)
                rows.append(Row(f"{name}  {label}", med(t, key), unit, ratio=r,
                                ref=f"moto {common.fmt(med(m, key))}",
                                target=f">= {target:g}x moto" if target else "",
                                ok=common.check(r, ">=", target) if target else None,
                                runs=t.res.get(key, []),
                                note="" if higher else "ratio = moto's / Kosha's"))
            if b is not None:
                rows.append(Row(f"Kosha / base  {label}", med(k, key), unit,
                                ref=f"base {common.fmt(med(b, key))}",
                                ratio=pratio(key, k, key, b), runs=k.res.get(key, []) if k else []))
        return rows
    ref_up, ref_down = common.median(ref_res["up"]), common.median(ref_res["down"])
    rows = [Row(f"ref upload {big} MD5+fsync", ref_up, "MB/s", runs=ref_res["up"]),
            Row(f"ref download {big} 1 MiB chunks", ref_down, "MB/s", runs=ref_res["down"])]

    def pair(key, label, unit, target_vs_moto=None, higher_better=True):
        mv, kv = med(m, key), med(k, key)
        rows.append(Row(f"moto   {label}", mv, unit, runs=m.res.get(key, []) if m else []))
        r = pratio(key, k, key, m) if higher_better else pratio(key, m, key, k)
        rows.append(Row(f"Kosha  {label}", kv, unit, ref=f"moto {common.fmt(mv)}", ratio=r,
                        target=f">= {target_vs_moto:g}x moto" if target_vs_moto else "",
                        ok=common.check(r, ">=", target_vs_moto) if target_vs_moto else None,
                        runs=k.res.get(key, []) if k else [],
                        note="" if higher_better else "ratio = moto's figure / Kosha's (lower is better)"))

    pair("put", f"PUT {big}", "MB/s")
    kv = med(k, "put")
    rows.append(Row(f"Kosha  PUT {big} vs reference", kv, "MB/s",
                    ref=f"ref MD5+fsync {common.fmt(ref_up)}",
                    ratio=common.paired_ratio(k.res.get("put", []) if k else [], ref_res["up"]),
                    target=">= 0.90x ref",
                    ok=common.check(common.paired_ratio(k.res.get("put", []) if k else [],
                                                        ref_res["up"]), ">=", 0.9)))
    pair("get", f"GET {big}", "MB/s")
    kv = med(k, "get")
    rows.append(Row(f"Kosha  GET {big} vs reference", kv, "MB/s",
                    ref=f"ref 1 MiB {common.fmt(ref_down)}",
                    ratio=common.paired_ratio(k.res.get("get", []) if k else [], ref_res["down"]),
                    target=">= 1000 MB/s", ok=common.check(kv, ">=", 1000)))
    pair("get4k", "4 KiB GET", "ops/s", 20)   # issue 8
    pair("put4k", "4 KiB PUT", "ops/s", 8)    # issue 8
    pair("putnew", "4 KiB PUT, new keys", "ops/s")
    pair("put4k_cpu", "4 KiB PUT, server CPU/request", "us", higher_better=False)
    pair("get4k_cpu", "4 KiB GET, server CPU/request", "us", higher_better=False)
    pair("mpu", f"multipart {mp_total // MiB} MiB (8 MiB x 4)", "MB/s")
    pair("list", f"ListObjectsV2 {nlist:,} keys (boto3)", "s", higher_better=False)
    pair("listraw", f"ListObjectsV2 {nlist:,} keys (raw http)", "s", higher_better=False)
    for t, label in ((m, "moto "), (k, "Kosha")):
        if t and t.res.get("rss"):
            v = max(t.res["rss"])
            rows.append(Row(f"{label}  RSS growth, PUT {big}", v, "MiB",
                            target="< 64 MiB" if t is k else "",
                            ok=common.check(v, "<", 64) if t is k else None, runs=t.res["rss"]))
    return rows


if __name__ == "__main__":
    main()
