"""Revocation across processes: how long a deleted access key keeps signing on other processes.

Three `kosha serve` processes on one store (SQLite in one data directory, or PostgreSQL with
--postgres URL). Each trial: create an access key through process A, sign an S3 request with it
on B and C (their caches now hold it), delete it through A, then poll B and C until both refuse
it. Prints the delay's median, p99 and worst over the trials, how many were within the stated
bound (1 s), and as the same-run reference the median latency of one signed S3 request (the
polling granularity).

    python bench/revocation.py --trials 1000            # SQLite
    python bench/revocation.py --trials 1000 --postgres postgresql://postgres@127.0.0.1/kosha_bench
"""
from __future__ import annotations

import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    HOST,
    REPO,
    Row,
    Server,
    banner,
    base_parser,
    finish_args,
    free_port,
    make_root_keys,
    print_table,
    scratch_dir,
    write_json,
)

BOUND = 1.0
REGION = "In-Bangalore-1"


def start_three(data_dir: Path, log_dir: Path, database_url: str | None) -> list[tuple[str, str]]:
    ak, sk = make_root_keys()
    env = {"KOSHA_ROOT_ACCESS_KEY": ak, "KOSHA_ROOT_SECRET_KEY": sk, "KOSHA_LOG_LEVEL": "warning",
           "KOSHA_ACCESS_LOG": "off", "PYTHONPATH": str(REPO)}
    urls, servers = [], []
    for name in ("a", "b", "c"):
        port, s3_port = free_port(), free_port()
        cmd = [sys.executable, "-m", "kosha", "serve", "--data", str(data_dir), "--port", str(port),
               "--s3-port", str(s3_port)] + (["--database-url", database_url] if database_url else [])
        servers.append(Server(f"revocation-{name}", cmd, f"http://{HOST}:{port}/healthz", env=env,
                              cwd=REPO, log_dir=log_dir).start())
        urls.append((f"http://{HOST}:{port}", f"http://{HOST}:{s3_port}"))
    start_three.servers = servers  # type: ignore[attr-defined]
    start_three.root = (ak, sk)  # type: ignore[attr-defined]
    return urls


def signed_get(http: httpx.Client, s3_url: str, key: str, secret: str) -> int:
    request = AWSRequest(method="GET", url=f"{s3_url}/", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(key, secret), "s3", REGION).add_auth(request)
    return http.get(request.url, headers=dict(request.headers.items())).status_code


def admin_session(http: httpx.Client, kos: str, root: tuple[str, str]) -> dict[str, str]:
    def post(path: str, token: str | None, body: dict) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = http.post(f"{kos}{path}", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()
    root_token = post("/kos/v1/sessions/activate", None, {"accessKey": root[0], "secretKey": root[1]})["sessionToken"]
    account = post("/internal/kos/v1/accounts", root_token, {"name": f"bench-{uuid.uuid4().hex[:6]}"})["account_id"]
    user = post(f"/internal/kos/v1/accounts/{account}/users", root_token, {"name": "bench", "admin": True})
    token = post("/kos/v1/sessions/activate", None,
                 {"accessKey": user["access_key"], "secretKey": user["secret_key"]})["sessionToken"]
    return {"Authorization": f"Bearer {token}"}


def trials(urls: list[tuple[str, str]], root: tuple[str, str], n: int) -> tuple[list[float], list[float]]:
    (kos_a, _s3_a), others = urls[0], [s3 for _kos, s3 in urls[1:]]
    delays, latencies = [], []
    with httpx.Client(timeout=30) as http:
        auth = admin_session(http, kos_a, root)
        for i in range(n):
            body = http.post(f"{kos_a}/kos/v1/access_keys", json={"key_name": "k"}, headers=auth).json()
            key, secret = body["access_key"], body["secret_key"]
            for s3 in others:
                started = time.perf_counter()
                assert signed_get(http, s3, key, secret) == 200
                latencies.append(time.perf_counter() - started)
            assert http.delete(f"{kos_a}/kos/v1/access_keys/{key}", headers=auth).status_code == 204
            started = time.perf_counter()
            pending = list(others)
            while pending:
                pending = [s3 for s3 in pending if signed_get(http, s3, key, secret) != 403]
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"trial {i}: the deleted key still signs after 30 s")
            delays.append(time.perf_counter() - started)
            if (i + 1) % 100 == 0:
                print(f"  {i + 1} trials, worst so far {max(delays) * 1000:.0f} ms", flush=True)
    return delays, latencies


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL of an empty database")
    args = finish_args(parser.parse_args())
    n = 20 if args.quick else args.trials
    banner(f"revocation across 3 processes ({'PostgreSQL' if args.postgres else 'SQLite'}), {n} trials")
    with scratch_dir(args, "revocation") as tmp:
        urls = start_three(tmp / "data", tmp, args.postgres)
        try:
            delays, latencies = trials(urls, start_three.root, n)  # type: ignore[attr-defined]
        finally:
            for server in start_three.servers:  # type: ignore[attr-defined]
                server.stop()
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    request = statistics.median(latencies)
    within = sum(d <= BOUND for d in delays)
    ref = f"{request * 1000:.1f} ms request"
    rows = [
        Row("revocation delay, median", statistics.median(delays) * 1000, "ms", ref,
            statistics.median(delays) / request),
        Row("revocation delay, p99", p99 * 1000, "ms", ref, p99 / request),
        Row("revocation delay, worst", ordered[-1] * 1000, "ms", f"{BOUND * 1000:.0f} ms bound",
            ordered[-1] / BOUND, "<= 1000 ms", ordered[-1] <= BOUND),
        Row("trials within 1 s", within, f"of {n}", target=f"{n} of {n}", ok=within == n),
    ]
    print_table(rows, "reference: median signed S3 request latency (first three rows), the bound (worst)")
    write_json(args.json, {"trials": n, "delays": delays, "request_median": request, "within": within})


if __name__ == "__main__":
    main()
