"""Schemathesis against a fresh `kosha serve`, long: passes until the server has answered at least
--requests generated requests (default 20,000), then the figures.

The same run as tests/api/test_schemathesis.py (which is bounded for CI), with its helpers
(tests/api/schemathesis_setup.py): the served `/openapi.json` with its links
(kosha/api/openapi_links.py), seeded resources mixed into half of the generated identifiers,
every phase (examples, coverage, fuzzing, stateful), checks `not_a_server_error` and `response_schema_conformance`; passes with
the operator's session token alternate with shorter passes without one. Requests and 5xx answers
are counted by the server itself (`kosha_http_requests_total` in /metrics), and the server log
is scanned for unexpected errors.

    python bench/schemathesis_run.py [--requests 20000] [--pass-seconds 240] [--keep]

Exits 1 when a check failed or the server answered a 5xx.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "api"))
import common  # noqa: E402
from schemathesis_setup import (requests_by_status, schemathesis_run, section, seed,  # noqa: E402
                                write_config)

def statuses_by_operation(kos_url: str) -> dict[str, dict[str, int]]:
    """{operation: {status: count}} of the KOS port, from /metrics."""
    _, text = common.http_simple("GET", f"{kos_url}/metrics")
    answered: dict[str, dict[str, int]] = {}
    for line in text.decode().splitlines():
        found = re.match(r'kosha_http_requests_total\{(.*)\} (\S+)', line)
        if found and 'port="kos"' in found.group(1):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
            codes = answered.setdefault(labels.get("operation", "?"), {})
            codes[labels.get("status", "?")] = int(float(found.group(2)))
    return answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--pass-seconds", type=int, default=240, help="budget of one authenticated pass")
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    common.banner(f"Schemathesis: at least {args.requests} generated requests against /openapi.json")
    failures: list[str] = []
    t0 = time.monotonic()
    with common.scratch_dir(args, "schemathesis-") as scratch:
        kp = common.kosha_server(scratch / "data", scratch, "kosha-schemathesis")
        kp.server.start()
        try:
            status, body = common.http_json("POST", f"{kp.kos_url}/kos/v1/sessions/activate",
                                            {"accessKey": kp.access_key, "secretKey": kp.secret_key})
            assert status == 200 and isinstance(body, dict), (status, body)
            config = write_config(scratch / "schemathesis.toml", seed(kp.kos_url, body["sessionToken"]))
            total = errors = 0
            n = 0
            while total < args.requests:
                n += 1
                anonymous = n % 3 == 0
                headers: list[str] = []
                if not anonymous:
                    status, body = common.http_json(
                        "POST", f"{kp.kos_url}/kos/v1/sessions/activate",
                        {"accessKey": kp.access_key, "secretKey": kp.secret_key})
                    assert status == 200 and isinstance(body, dict), (status, body)
                    headers = [f"Authorization: Bearer {body['sessionToken']}"]
                seconds = args.pass_seconds // 3 if anonymous else args.pass_seconds
                output = schemathesis_run(kp.kos_url, seconds, headers, scratch, config, 1000 + n)
                found = section(output, "FAILURES")
                if found:
                    failures.append(found)
                total, errors = requests_by_status(kp.kos_url)
                links = re.search(r"API Links:\s+(.*)", output)
                cases = re.search(r"Test cases:\s*\n\s*(.*)", output)
                print(f"   pass {n} ({'no credentials' if anonymous else 'operator session'}, {seconds} s): "
                      f"{cases.group(1) if cases else '?'}; stateful links {links.group(1) if links else '?'}; "
                      f"server total {total} requests, {errors} answered 5xx", flush=True)
                (scratch / f"pass-{n}.txt").write_text(output)
            answered = statuses_by_operation(kp.kos_url)
        finally:
            kp.server.stop()
        log = kp.server.log_path.read_text(errors="replace")
        unexpected = log.count("unexpected error")
    minutes = (time.monotonic() - t0) / 60
    print()
    print(f"   {total} requests answered in {minutes:.1f} min; 5xx: {errors}; "
          f"'unexpected error' in the server log: {unexpected}; schemathesis failures: {len(failures)}")
    reached = sorted(op for op, codes in answered.items() if any(c.startswith("2") for c in codes))
    print(f"   operations answered 2xx at least once: {len(reached)} of {len(answered)}; never 2xx: "
          f"{sorted(set(answered) - set(reached))}")
    for found in failures:
        print(found[:4000])
    return 0 if not failures and errors == 0 and unexpected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
