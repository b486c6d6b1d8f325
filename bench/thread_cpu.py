"""The server's CPU per KOS REST 4 KiB request, split by thread: the event loop against the database
writer (and the reader pool), which the process-wide figure of before_after.py adds together.

Starts Kosha from the checkout given (default: this one), stores 256 4 KiB objects, then runs
16-client wrk phases of 4 KiB form uploads and downloads and prints, per phase, the ops/s, the
user and system CPU per request of the whole process, and the CPU per request of its busiest
threads (from /proc/<pid>/task). Run it once per checkout to compare them:

    python bench/thread_cpu.py [--tree /path/to/checkout] [--runs 2] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import loadgen  # noqa: E402
from kos_rest import BUCKET, small_objects_session  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[str, tuple[str, int]]:
    """CPU ticks (user + system) of each thread of `pid`, with its name."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue
        name = raw.split("(", 1)[1].rsplit(")", 1)[0]
        fields = raw.rsplit(")", 1)[1].split()
        out[tid] = (name, int(fields[11]) + int(fields[12]))
    return out


def user_system(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(common.REPO), help="the checkout of Kosha to run")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4)
    a = ap.parse_args()
    tree = str(Path(a.tree).resolve())
    args = argparse.Namespace(tmp=None, keep=False)
    with common.scratch_dir(args, "thread-cpu-") as tmp:
        kp = common.kosha_server(tmp / "kosha", tmp, "kosha", {"PYTHONPATH": tree})
        kp.server.cwd = tree   # `python -m` puts the working directory first on sys.path
        with kp.server:
            pid = kp.server.pid
            kos, body, keys = small_objects_session(kp)
            loadgen.run_count(kp.kos_url, kos.small_upload_reqs(BUCKET, keys, body))
            print(f"Kosha from {tree}, load average {os.getloadavg()[0]:.1f}")
            for _run in range(a.runs):
                for phase in ("upload", "download"):
                    reqs = (kos.small_upload_reqs(BUCKET, [f"u-{i}" for i in range(2000)], body)
                            if phase == "upload" else kos.small_download_reqs(BUCKET, keys))
                    t0, (u0, s0) = threads(pid), user_system(pid)
                    result = loadgen.run_load(kp.kos_url, reqs, 16, a.seconds)
                    (u1, s1), t1 = user_system(pid), threads(pid)
                    n = max(result.requests, 1)
                    busiest = sorted(((1e6 * (t1[t][1] - t0.get(t, ("", 0))[1]) / TICK / n, t)
                                      for t in t1), reverse=True)[:3]
                    print(f"  4 KiB {phase:8s} {result.ops:7,.0f} ops/s  CPU per request: user "
                          f"{1e6 * (u1 - u0) / n:4.0f} us + system {1e6 * (s1 - s0) / n:3.0f} us;"
                          " by thread " + ", ".join(f"{'loop' if t == str(pid) else t} {v:.0f} us"
                                                    for v, t in busiest), flush=True)


if __name__ == "__main__":
    main()
