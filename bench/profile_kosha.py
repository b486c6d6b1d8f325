"""Where does Kosha spend its time?  py-spy samples the server during one load phase.

Starts Kosha, prepares a bucket, runs one phase while `py-spy record --format raw`
samples the server process, and prints the hottest functions by own time and by
inclusive time (file:function), plus the throughput seen during the profile.

Phases:  rest-get4k  rest-put4k  rest-upload  rest-download
         s3-get4k    s3-put4k    s3-put       s3-get

    pip install py-spy
    python bench/profile_kosha.py rest-get4k [--seconds 8] [--top 25] [--rate 250]

(The profiler slows the server; use the figures only to compare code paths.)
"""
from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from common import MiB  # noqa: E402
from kos_rest import BUCKET, REGION, small_objects_session  # noqa: E402

PHASES = ["rest-get4k", "rest-put4k", "rest-upload", "rest-download",
          "s3-get4k", "s3-put4k", "s3-put", "s3-get"]


def summarize(raw: Path, top: int) -> None:
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        print("no samples")
        return
    print(f"\n{total} samples")
    print(f"\n-- top {top} by own time")
    for f, n in own.most_common(top):
        print(f"{100 * n / total:6.1f}%  {f}")
    print(f"\n-- top {top} kosha/starlette/uvicorn functions by inclusive time")
    shown = 0
    for f, n in incl.most_common():
        if any(k in f for k in ("kosha/", "starlette/", "uvicorn/", "sqlalchemy/", "multipart")):
            print(f"{100 * n / total:6.1f}%  {f}")
            shown += 1
            if shown >= top:
                break


def _short(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    name, _, loc = frame.partition(" (")
    loc = loc.rstrip(")")
    path, _, _line = loc.rpartition(":")
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=PHASES)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--native", action="store_true", help="py-spy --native")
    a = ap.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(common.PY).parent / "py-spy")
    if not Path(pyspy).exists():
        raise SystemExit("py-spy not installed: pip install py-spy")
    out = common.BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    raw = out / f"profile-{a.phase}.txt"
    args = argparse.Namespace(tmp=None, keep=False)
    with common.scratch_dir(args, "profile-") as tmp:
        kp = common.kosha_server(tmp / "kosha", tmp)
        with kp.server:
            kos, body, keys = small_objects_session(kp)
            s3 = lambda m, ks, b=b"": loadgen.s3_requests(  # noqa: E731
                kp.s3_url, kp.access_key, kp.secret_key, m, BUCKET, ks, b, REGION)
            if a.phase in ("rest-get4k", "s3-get4k"):
                loadgen.run_count(kp.kos_url, kos.small_upload_reqs(BUCKET, keys, body))
            size = 256 * MiB
            if a.phase in ("rest-download", "s3-get"):
                kos.upload(BUCKET, "big.bin", size)

            def work():
                end = time.monotonic() + a.seconds
                n = 0
                t0 = time.perf_counter()
                if a.phase == "rest-get4k":
                    print(loadgen.run_load(kp.kos_url, kos.small_download_reqs(BUCKET, keys),
                                           a.concurrency, a.seconds).line())
                elif a.phase == "rest-put4k":
                    print(loadgen.run_load(kp.kos_url, kos.small_upload_reqs(
                        BUCKET, [f"u-{i}" for i in range(2000)], body),
                        a.concurrency, a.seconds).line())
                elif a.phase == "s3-get4k":
                    print(loadgen.run_load(kp.s3_url, s3("GET", keys), a.concurrency,
                                           a.seconds).line())
                elif a.phase == "s3-put4k":
                    print(loadgen.run_load(kp.s3_url, s3("PUT", [f"u-{i}" for i in range(2000)],
                                                         body), a.concurrency, a.seconds).line())
                else:
                    while time.monotonic() < end:
                        if a.phase == "rest-upload":
                            kos.upload(BUCKET, "big.bin", size)
                        elif a.phase == "rest-download":
                            kos.download(BUCKET, "big.bin", size)
                        elif a.phase == "s3-put":
                            r = s3("PUT", ["big.bin"])[0]
                            common.stream_upload(kp.s3_url + r.path, common.pattern_chunks(size),
                                                 size, headers={**r.headers,
                                                                "x-amz-content-sha256":
                                                                "UNSIGNED-PAYLOAD"})
                        elif a.phase == "s3-get":
                            r = s3("GET", ["big.bin"])[0]
                            common.stream_download(kp.s3_url + r.path, headers=r.headers)
                        n += 1
                    print(f"{n} x {size // MiB} MiB in {time.perf_counter() - t0:.1f}s: "
                          f"{n * size / (time.perf_counter() - t0) / 1e6:.0f} MB/s")

            if a.phase in ("s3-put",):
                # re-sign with UNSIGNED-PAYLOAD: the body is streamed, not hashed up front
                s3 = lambda m, ks, b=b"": loadgen.s3_requests(  # noqa: E731
                    kp.s3_url, kp.access_key, kp.secret_key, m, BUCKET, ks, b, REGION,
                    unsigned=True)
            th = threading.Thread(target=work)
            cmd = [pyspy, "record", "-p", str(kp.server.pid), "-d", str(int(a.seconds)), "-r",
                   str(a.rate), "--format", "raw", "-o", str(raw), "--nonblocking"]
            if a.native:
                cmd.append("--native")
            th.start()
            time.sleep(0.5)
            subprocess.run(cmd, capture_output=True)
            th.join()
    print(f"(raw stacks: {raw})")
    summarize(raw, a.top)


if __name__ == "__main__":
    main()
