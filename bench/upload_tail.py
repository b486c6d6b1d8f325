"""How long a big upload's answer takes after its last byte: the commit's tail, this checkout
against another one (--baseline), interleaved.

The bench client (http.client, 1 MiB writes) sends a 256 MiB KOS REST form upload and the time
from its last `sendall` to the answer is the server's work after the body: the last MiB's MD5
and write, the blob's fsync, rename and directory fsync, the metadata commit. The whole
upload's MB/s is printed beside it (docs/benchmarks.md, "Signed S3 PUTs (issue 8)").

    python bench/upload_tail.py [--runs 15] [--size-mib 256] [--baseline /path/to/older/checkout]
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import MiB  # noqa: E402
from kos_rest import API, BOUNDARY, BUCKET, REGION, Kos, multipart_envelope  # noqa: E402


def upload(kp: common.KoshaProc, kos: Kos, size: int) -> tuple[float, float]:
    """(seconds from the last byte sent to the answer, seconds of the whole upload)."""
    head, tail = multipart_envelope("tail.bin")
    c = http.client.HTTPConnection(common.HOST, kp.port, timeout=600)
    try:
        c.putrequest("PUT", f"{API}/buckets/{BUCKET}/objects", skip_accept_encoding=True)
        for k, v in kos.hdrs(**{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}).items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(head) + size + len(tail)))
        c.endheaders()
        t0 = time.perf_counter()
        c.sock.sendall(head)
        for chunk in common.pattern_chunks(size):
            c.sock.sendall(chunk)
        c.sock.sendall(tail)
        t1 = time.perf_counter()
        r = c.getresponse()
        body = r.read()
        t2 = time.perf_counter()
    finally:
        c.close()
    if r.status not in (200, 201):
        raise RuntimeError(f"upload -> {r.status}: {body[:300]!r}")
    return t2 - t1, t2 - t0


def main() -> None:
    ap = common.base_parser("Seconds from a big upload's last byte to its answer")
    ap.add_argument("--baseline", help="an older checkout of Kosha to measure beside this one")
    ap.add_argument("--size-mib", type=int, default=256)
    ap.set_defaults(runs=15)
    args = common.finish_args(ap.parse_args())
    size = args.size_mib * MiB
    common.banner(f"upload tail: {args.size_mib} MiB form uploads, median of {args.runs}")
    trees = {"kosha": str(common.REPO), **({"baseline": args.baseline} if args.baseline else {})}
    tails: dict[str, list[float]] = {name: [] for name in trees}
    whole: dict[str, list[float]] = {name: [] for name in trees}
    with common.scratch_dir(args, "upload-tail-") as tmp:
        started: list[common.KoshaProc] = []
        servers: list[tuple[str, common.KoshaProc, Kos]] = []
        try:
            for name, tree in trees.items():
                kp = common.kosha_server(tmp / name, tmp, name, {"PYTHONPATH": tree})
                started.append(kp)
                kp.server.start()
                kp.load_credentials()
                kos = Kos(kp.kos_url)
                kos.activate(kp.access_key, kp.secret_key)
                kos.create_bucket(BUCKET, REGION)
                servers.append((name, kp, kos))
            if args.max_wait:
                common.wait_quiet(args.max_wait)
            for run in range(args.runs):
                for name, kp, kos in (servers if run % 2 == 0 else servers[::-1]):
                    t, w = upload(kp, kos, size)
                    tails[name].append(t)
                    whole[name].append(w)
        finally:
            for kp in started:
                kp.server.stop()
    for name in trees:
        mbps = [size / w / 1e6 for w in whole[name]]
        print(f"  {name:<9} last byte -> answer {common.median(tails[name]) * 1000:6.1f} ms "
              f"({min(tails[name]) * 1000:.0f}..{max(tails[name]) * 1000:.0f}); whole upload "
              f"{common.median(mbps):5.0f} MB/s ({common.spread(mbps)})")
    if args.baseline:
        print(f"  kosha / baseline, whole upload MB/s: "
              f"{common.paired_ratio([1 / w for w in whole['kosha']], [1 / w for w in whole['baseline']]):.2f}x")


if __name__ == "__main__":
    main()
