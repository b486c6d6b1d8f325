"""A 256 MiB KOS REST form upload from each client people use, against the bare app's raw upload.

How fast a multipart/form-data upload goes depends on how the client frames the body (chunk
sizes written to the socket, `Expect: 100-continue`, boundary, part headers), so one client's
figure says little (issue 8). This uploads the same file, in one run, with:

  reference   curl -T to the bare app (bench/reference_app.py: MD5 + fsync)
  curl -F     curl -F file=@big                 (Expect: 100-continue, 64 KiB writes)
  requests    requests.put(files=)              (whole body built in memory, one sendall)
  httpx       httpx.put(files=)                 (file read in 64 KiB pieces)
  krutrim     krutrim-client's put(files=)      (a path is read whole and sent as one buffer;
                                                 an open file is streamed by httpx)
  bench       bench/kos_rest.py's client        (http.client, 1 MiB writes)
  chromium    FormData through fetch in headless Chromium (skipped if Chromium is missing)

Every client also uploads to the bare app's /form endpoint (the same MD5 + fsync, the form
parsed not at all): what a client reaches against the floor is its own limit, and Kosha's
figure over that one, client for client, is the share a server could still win. Beside each
figure: the server's CPU per GB and the client's own (this process for the Python clients,
the finished curl children, and the live processes under this one that are no server:
Chromium and its Playwright driver).

then, in this process, the CPU the form reader (kosha.api.multipart_form) spends per GB of file
bytes for each read size the clients cause (16 KiB browsers, 64 KiB curl, 250 KB big writes),
beside MD5's over the same bytes: the part of the loop's work that is the form's own.

Each figure is the median of --runs; the ratio is the median of per-run ratios to the reference.
With --baseline DIR a second Kosha runs from that checkout (e.g. a worktree of main before a
change) and every client is measured against it too, in the same run.

    python bench/form_upload.py [--runs 3] [--quick] [--baseline /path/to/older/checkout]
                                [--only "curl -F" --only httpx ...]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import types
import urllib.parse
from collections.abc import Callable
from typing import Any
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import MiB, Row  # noqa: E402
from kos_rest import BUCKET, REGION, Kos, expected_md5  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
Upload = Callable[["Target", Path], float]   # seconds from the first byte sent to the answer


class Target:
    """A Kosha server (this tree or a baseline) with a session and a bucket."""

    def __init__(self, name: str, kp: common.KoshaProc) -> None:
        self.name, self.kp = name, kp
        self.kos = Kos(kp.kos_url)

    def start(self) -> None:
        self.kp.server.start()
        self.kp.load_credentials()
        self.kos.activate(self.kp.access_key, self.kp.secret_key)
        self.kos.create_bucket(BUCKET, REGION)

    @property
    def url(self) -> str:
        return f"{self.kp.kos_url}/kos/v1/buckets/{BUCKET}/objects"

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.kos.token}"}

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.kp.kos_url)
        return f"{parts.scheme}://{parts.netloc}"


class BareTarget(Target):
    """The bare app's /form endpoint in Kosha's place: any path under it streams the body to a
    file with MD5 + fsync and answers 200, so every client's upload runs unchanged."""

    def __init__(self, base: str) -> None:
        self.name = "bare app"
        self.kp = types.SimpleNamespace(kos_url=f"{base}/form")   # type: ignore[assignment]
        self.kos = Kos(self.kp.kos_url)
        self.kos.token = "unchecked"


def _curl(args: list[str]) -> float:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                          *args], capture_output=True, text=True, timeout=600, check=True).stdout
    code, seconds = out.split()
    if code not in ("200", "201"):
        raise RuntimeError(f"curl {args[-1]} -> {code}")
    return float(seconds)


def reference(base: str, big: Path) -> float:
    return _curl(["-T", str(big), f"{base}/upload/big"])


def curl_form(t: Target, big: Path) -> float:
    return _curl(["-X", "PUT", "-H", f"Authorization: Bearer {t.kos.token}",
                  "-F", f"file=@{big};filename=curl.bin", t.url])


def _checked(status: int, body: object) -> None:
    if status not in (200, 201):
        raise RuntimeError(f"upload -> {status}: {str(body)[:300]}")


def _library_form(put: Callable[..., Any], t: Target, big: Path, name: str) -> float:
    """An upload with a library's `put(url, files=...)` (requests and httpx share the call)."""
    with open(big, "rb") as f:
        t0 = time.perf_counter()
        r = put(t.url, files={"file": (name, f)}, headers=t.bearer, timeout=600)
        dt = time.perf_counter() - t0
    _checked(r.status_code, r.text)
    return dt


def requests_form(t: Target, big: Path) -> float:
    import requests
    return _library_form(requests.put, t, big, "requests.bin")


def httpx_form(t: Target, big: Path) -> float:
    import httpx
    return _library_form(httpx.put, t, big, "httpx.bin")


def _krutrim(t: Target, file: object) -> float:
    import httpx
    from krutrim_client import KrutrimClient
    client = KrutrimClient(api_key=t.kos.token, base_url=t.kp.kos_url, max_retries=0, timeout=600)
    try:
        t0 = time.perf_counter()
        r = client.put(f"/kos/v1/buckets/{BUCKET}/objects", cast_to=httpx.Response,
                       files={"file": file},
                       options={"headers": {"Content-Type": "multipart/form-data"}})
        dt = time.perf_counter() - t0
    finally:
        client.close()
    _checked(r.status_code, r.text)
    return dt


def krutrim_path(t: Target, big: Path) -> float:
    """A path, as its docs show: the SDK reads it whole and httpx sends it as one buffer."""
    return _krutrim(t, big)


def krutrim_file(t: Target, big: Path) -> float:
    """A (name, open file) tuple: the SDK passes it on, and httpx reads it 64 KiB at a time."""
    with open(big, "rb") as f:
        return _krutrim(t, ("krutrim.bin", f))


def bench_client(t: Target, big: Path) -> float:
    return t.kos.upload(BUCKET, "bench.bin", big.stat().st_size).seconds


class Browser:
    """Headless Chromium on a page of the Kosha origin, uploading a file input with fetch."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        self._pages: dict[str, object] = {}

    def page(self, t: Target):  # type: ignore[no-untyped-def]
        if t.name not in self._pages:
            page = self._browser.new_page()
            page.goto(f"{t.origin}/healthz")
            page.set_content('<input type="file" id="f">')
            self._pages[t.name] = page
        return self._pages[t.name]

    def upload(self, t: Target, big: Path) -> float:
        page = self.page(t)
        page.set_input_files("#f", str(big))
        ms, status = page.evaluate("""async ([url, token]) => {
            const fd = new FormData();
            fd.append("file", document.getElementById("f").files[0], "chromium.bin");
            const t0 = performance.now();
            const r = await fetch(url, {method: "PUT", body: fd,
                                        headers: {Authorization: "Bearer " + token}});
            await r.text();
            return [performance.now() - t0, r.status];
        }""", [t.url, t.kos.token])
        _checked(status, "")
        return ms / 1000

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()


def clients(browser: Browser | None) -> dict[str, Upload]:
    import httpx  # noqa: F401 - imported before any timing: a first import is not an upload
    import krutrim_client  # noqa: F401
    import requests  # noqa: F401
    out: dict[str, Upload] = {"curl -F": curl_form, "requests": requests_form,
                              "httpx": httpx_form, "krutrim-client (path)": krutrim_path,
                              "krutrim-client (open file)": krutrim_file,
                              "bench client (1 MiB writes)": bench_client}
    if browser is not None:
        out["chromium FormData+fetch"] = browser.upload
    return out


def open_browser() -> Browser | None:
    if not os.path.exists(CHROMIUM):
        print(f"  -- chromium skipped: {CHROMIUM} is missing")
        return None
    try:
        return Browser()
    except Exception as exc:  # noqa: BLE001 - any failure to start it is a skip, said aloud
        print(f"  -- chromium skipped: {exc}")
        return None


def main() -> None:
    ap = common.base_parser("KOS REST form uploads from each client vs the bare app's raw upload")
    ap.add_argument("--baseline", help="an older checkout of Kosha to measure beside this one")
    ap.add_argument("--size-mib", type=int, default=None, help="file size (default 256, 32 quick)")
    ap.add_argument("--only", action="append", default=[],
                    help="measure only the clients whose name contains this (repeatable)")
    args = common.finish_args(ap.parse_args())
    size = (args.size_mib or (32 if args.quick else 256)) * MiB
    common.banner(f"KOS REST form uploads: {size // MiB} MiB, median of {args.runs}")
    seconds: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with common.scratch_dir(args, "form-upload-") as tmp:
        big = tmp / "big.bin"
        with open(big, "wb") as f:
            for chunk in common.pattern_chunks(size):
                f.write(chunk)
        ref = common.ref_app("uvicorn", tmp / "ref", tmp, "ref-uvicorn")
        targets = [Target("kosha", common.kosha_server(tmp / "kosha", tmp, "kosha"))]
        if args.baseline:
            targets.append(Target("baseline", common.kosha_server(
                tmp / "baseline", tmp, "baseline", {"PYTHONPATH": args.baseline})))
            targets[-1].kp.server.cwd = args.baseline   # `python -m` puts the cwd first
        browser = open_browser()
        try:
            with ref:
                for t in targets:
                    t.start()
                chosen = {name: upload for name, upload in clients(browser).items()
                          if not args.only or any(o in name for o in args.only)}
                bare = BareTarget(ref.health_url.rsplit("/", 1)[0])
                if browser is not None:   # a page's renderer starts outside the measured CPU
                    for t in [bare, *targets]:
                        browser.page(t)
                _measure(args, ref, bare, targets, chosen, big, seconds, cpu)
                if "curl -F" in chosen:
                    _check_md5(targets[0], big)
                for t in targets:
                    t.kp.server.stop()
        finally:
            if browser is not None:
                browser.close()
    rows = table(seconds, size)
    common.print_table(rows, f"KOS REST {size // MiB} MiB form uploads (median of {args.runs}; "
                             "MB/s = 10^6 B/s; ratio = median of per-run ratios to curl -T)")
    cpu_rows = cpu_table(cpu, size)
    common.print_table(cpu_rows, "CPU seconds per GB uploaded, server (user + system, all threads; "
                                 "ratio = reference / this, so 1.00x = as cheap as the bare app), "
                                 "then client")
    by_client(seconds, cpu, size, [t.name for t in targets])
    parser_rows = reader_table(size)
    common.print_table(parser_rows, "form reader CPU per GB of file bytes, in process "
                                    "(best of 3; ratio = reader / MD5 of the same bytes)")
    common.write_json(args.json, {"rows": rows + cpu_rows + parser_rows, "seconds": seconds,
                                  "cpu": cpu})


def _measure(args, ref: common.Server, bare: BareTarget,  # type: ignore[no-untyped-def]
             targets: list[Target],
             uploads: dict[str, Upload], big: Path, seconds: dict[str, list[float]],
             cpu: dict[str, list[float]]) -> None:
    base = ref.health_url.rsplit("/", 1)[0]
    size = big.stat().st_size

    servers = [ref.pid] + [t.kp.server.pid for t in targets]

    def one(name: str, pid: int, upload: Callable[[], float]) -> None:
        os.sync()
        cpu0, client0 = common.cpu_seconds(pid), _client_cpu(servers)
        seconds.setdefault(name, []).append(upload())
        cpu.setdefault(name, []).append(common.cpu_seconds(pid) - cpu0)
        cpu.setdefault(f"client CPU, {name}", []).append(_client_cpu(servers) - client0)
        line.append(f"{name} {size / seconds[name][-1] / 1e6:.0f}")

    for run in range(args.runs):
        if args.max_wait:
            common.wait_quiet(args.max_wait)
        line: list[str] = []
        one("reference", ref.pid, lambda: reference(base, big))
        order = targets if run % 2 == 0 else targets[::-1]
        for name, upload in uploads.items():
            one(f"{bare.name}: {name}", ref.pid, lambda: upload(bare, big))  # noqa: B023
            for t in order:
                one(f"{t.name}: {name}", t.kp.server.pid, lambda: upload(t, big))  # noqa: B023
        print(f"  run {run + 1} (load {os.getloadavg()[0]:.2f}), MB/s: " + ", ".join(line),
              flush=True)


def _client_cpu(servers: list[int]) -> float:
    """CPU of this process (the Python clients), of its finished children (curl) and of its
    live descendants that are not the servers' process trees (Chromium, Playwright's driver)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    serving = {p for pid in servers for p in common.proc_tree(pid)}
    live = [p for p in common.proc_tree(os.getpid())[1:] if p not in serving]
    return (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
            + sum(common.cpu_seconds(p, tree=False) for p in live))


def _check_md5(t: Target, big: Path) -> None:
    got = t.kos.download_md5(BUCKET, "curl.bin")
    want = expected_md5(big.stat().st_size)
    if got != want:
        raise RuntimeError(f"curl -F upload stored the wrong bytes (md5 {got}, expected {want})")


def table(seconds: dict[str, list[float]], size: int) -> list[Row]:
    ref = seconds["reference"]
    ref_mbps = [size / s / 1e6 for s in ref]
    rows = [Row("reference: curl -T, bare app MD5+fsync", common.median(ref_mbps), "MB/s",
                runs=ref_mbps)]
    for name, xs in seconds.items():
        if name == "reference":
            continue
        mbps = [size / s / 1e6 for s in xs]
        ratio = common.paired_ratio(mbps, ref_mbps)
        floor = name.startswith("bare app: ")   # a client's own limit, not a target
        rows.append(Row(name, common.median(mbps), "MB/s", f"curl -T {common.median(ref_mbps):.0f}",
                        ratio, "" if floor else ">= 0.95x",
                        None if floor else common.check(ratio, ">=", 0.95), runs=mbps))
    return rows


def by_client(seconds: dict[str, list[float]], cpu: dict[str, list[float]], size: int,
              targets: list[str]) -> None:
    """One line per client and server: MB/s, its ratio to curl -T and to the bare app with the
    same client (medians of per-run ratios), the server's and the client's CPU per GB."""
    ref = [size / s / 1e6 for s in seconds["reference"]]
    print("\n-- by client: MB/s (x curl -T to the bare app; x the bare app with the same client),"
          " CPU s/GB server / client")
    clients = [k.split(": ", 1)[1] for k in seconds if k.startswith("bare app: ")]
    for client in clients:
        floor = [size / s / 1e6 for s in seconds[f"bare app: {client}"]]
        for server in ["bare app", *targets]:
            key = f"{server}: {client}"
            if key not in seconds:
                continue
            mbps = [size / s / 1e6 for s in seconds[key]]
            gb = size / 1e9
            print(f"  {client:<30} {server:<9} {common.median(mbps):7.0f} MB/s "
                  f"({common.paired_ratio(mbps, ref) or 0:4.2f}x; "
                  f"{common.paired_ratio(mbps, floor) or 0:4.2f}x)   CPU "
                  f"{common.median(cpu[key]) / gb:5.2f} / "
                  f"{common.median(cpu['client CPU, ' + key]) / gb:5.2f}")


def cpu_table(cpu: dict[str, list[float]], size: int) -> list[Row]:
    per_gb = {name: [c / (size / 1e9) for c in xs] for name, xs in cpu.items()}
    ref = per_gb["reference"]
    rows = [Row("reference: curl -T, bare app MD5+fsync", common.median(ref), "CPU s/GB", runs=ref)]
    for name, xs in per_gb.items():
        if name == "reference" or name.startswith("client CPU"):
            continue
        rows.append(Row(name, common.median(xs), "CPU s/GB", f"bare app {common.median(ref):.2f}",
                        common.paired_ratio(ref, xs), runs=xs))
    rows += [Row(name, common.median(xs), "CPU s/GB", runs=xs)
             for name, xs in per_gb.items() if name.startswith("client CPU")]
    return rows


def reader_table(size: int) -> list[Row]:
    import asyncio
    import hashlib

    sys.path.insert(0, str(common.REPO))   # this checkout's kosha, as its server runs
    from kosha.api.multipart_form import MultipartForm
    boundary = b"------------------------d9f0eaf7bd01ec30"   # curl's shape
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="f"'
            b"\r\n\r\n" + bytes(common.pattern_mib()) * (size // MiB) + b"\r\n--" + boundary
            + b"--\r\n")

    async def read(chunks: list[bytes]) -> None:
        async def reads():  # type: ignore[no-untyped-def]
            for chunk in chunks:
                yield chunk
        async for part in MultipartForm(reads(), boundary).parts():
            async for _ in part.chunks():
                pass

    def md5_all(chunks: list[bytes]) -> None:
        md5 = hashlib.md5()
        for chunk in chunks:
            md5.update(chunk)

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return min(times) / (len(body) / 1e9)

    rows = []
    for read_size in (16 * 1024, 64 * 1024, 256000):
        chunks = [body[i:i + read_size] for i in range(0, len(body), read_size)]
        md5 = best(lambda: md5_all(chunks))  # noqa: B023
        cpu = best(lambda: asyncio.run(read(chunks)))  # noqa: B023
        rows.append(Row(f"form reader, {read_size // 1024} KiB reads", cpu, "CPU s/GB",
                        f"MD5 {md5:.2f}", cpu / md5))
    return rows


if __name__ == "__main__":
    main()
