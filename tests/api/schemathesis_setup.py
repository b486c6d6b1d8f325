"""Running schemathesis against a Kosha server: seeded resources, its config, one CLI pass, and
the server's own count of requests. Used by tests/api/test_schemathesis.py (bounded, in CI) and
bench/schemathesis_run.py (20,000+ requests).

The links in the served document (kosha/api/openapi_links.py) chain a created bucket to its
routes, but a chain needs each step to succeed; so the run also gets real identifiers to mix in
(schemathesis "dictionaries", used with probability one half): a versioned bucket holding objects
with several versions, a lifecycle rule, a bucket policy, a multipart upload with a part, a
policy. Half of the requests still carry generated identifiers (404s, invalid input).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# No answer is a 5xx; every answer fits its documented schema. Status-code conformance is not
# asked: the published reference lists few codes (no 403, 409 or 422 on most routes) that Kosha
# answers as docs/api-notes.md says.
CHECKS = "not_a_server_error,response_schema_conformance"
# The console's sign-in routes are a browser cookie flow, tested in tests/console.
EXCLUDED = "^/console/"
SEEDED_KEYS = 16


def _ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in codes, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def seed(kos_url: str, token: str) -> dict[str, list[Any]]:
    """Real resources for the fuzzer to find; their identifiers by dictionary name."""
    client = httpx.Client(base_url=kos_url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    with client:
        name = f"seeded-{uuid.uuid4().hex[:12]}"
        bucket = _ok(client.post("/kos/v1/buckets", json={"name": name, "versioning": True}), 201)
        keys = {group: [f"{group}/k{i:02d}.bin" if i % 2 else f"{group}/dir/k{i:02d}.txt"
                        for i in range(SEEDED_KEYS)] for group in ("read", "doomed", "movable")}
        keys["restorable"] = ["restorable.txt"]
        for round_ in range(3):  # three versions of each key
            files = [("file", (key, f"{key} v{round_}".encode() * 50, "application/octet-stream"))
                     for group in keys.values() for key in group]
            _ok(client.put(f"/kos/v1/buckets/{name}/objects", files=files), 201)
        restorable = _ok(client.get(f"/kos/v1/buckets/{name}/objects/versions",
                                    params={"key": "restorable.txt"}), 200)["versions"]
        rule = _ok(client.post(f"/kos/v1/buckets/{name}/lifecycle-rules",
                               json={"name": "seeded-rule", "expiration_days": 30}), 201)
        _ok(client.post(f"/kos/v1/buckets/policy/{bucket['krn']}",
                        json={"name": "seeded", "s3_read_write_ips": ["127.0.0.1"]}), 201)
        upload = _ok(client.post(f"/kos/v1/buckets/{name}/uploads", json={"objectkey": "multipart.bin"}), 201)
        _ok(client.put(f"/kos/v1/buckets/{name}/uploads/{upload['uploadId']}/parts/1",
                       content=b"p" * 1024, headers={"Content-Type": "application/octet-stream"}), 200)
        policy = _ok(client.post("/kos/v1/account/policies", json={
            "name": "seeded-policy", "statements": [
                {"effect": "Allow", "actions": ["kos:GetObject"], "resources": [f"{bucket['krn']}/*"]}]}), 201)
    return {
        "buckets": [name], "krns": [bucket["krn"]], **keys,
        "versions": [v["versionId"] for v in restorable[1:]],
        "rules": [rule["id"]], "uploads": [upload["uploadId"]], "policies": [policy["policyKRN"]],
    }


_BINDINGS = {
    "path.bucketId": "buckets", "path.bucketKrn": "krns", "path.ruleId": "rules",
    "path.uploadId": "uploads", "path.policyKrn": "policies", "path.policykrn": "policies",
    "query.key": "read", "query.rule": "rules",
}
# Per operation, so that deletes, moves and renames consume keys of their own and reads keep
# finding theirs; restore gets one key and its older versions.
_OBJECTS = "/kos/v1/buckets/{bucketId}/objects/"
_OPERATION_BINDINGS = {
    "download": {"body.objectkey": "read"}, "metadata": {"body.objectkey": "read"},
    "delete": {"body.objectkey": "doomed"}, "move": {"body.sourceKey": "movable"},
    "rename": {"body.oldKey": "movable"},
    "restore": {"body.objectkey": "restorable", "body.versionId": "versions"},
}


def _binding(key: str, name: str) -> str:
    return f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}'


def write_config(path: Path, seeded: dict[str, list[Any]]) -> Path:
    """A schemathesis.toml mixing the seeded identifiers into half of the generated values."""
    lines = []
    for name, values in seeded.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    lines += [_binding(key, name) for key, name in _BINDINGS.items()]
    for operation, bindings in _OPERATION_BINDINGS.items():
        lines += ["", "[[operations]]", f'include-name = "POST {_OBJECTS}{operation}"', "[operations.parameters]"]
        lines += [_binding(key, name) for key, name in bindings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def schemathesis_run(kos_url: str, seconds: int, headers: list[str], workdir: Path,
                     config: Path | None = None, seed_value: int | None = None) -> str:
    """One `schemathesis run` of every phase within `seconds`; its report."""
    command = [SCHEMATHESIS]
    if config is not None:
        command += ["--config-file", str(config)]
    command += ["run", f"{kos_url}/openapi.json", "--checks", CHECKS, "--exclude-path-regex", EXCLUDED,
                "--max-time", str(seconds), "--workers", "2", "--continue-on-failure",
                "--max-failures", "200", "--suppress-health-check", "all", "--generation-database", "none",
                "--no-color", "--request-timeout", "30"]
    if seed_value is not None:
        command += ["--seed", str(seed_value)]
    for header in headers:
        command += ["-H", header]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=seconds + 600)
    return done.stdout + done.stderr


def section(output: str, name: str) -> str:
    """A section of schemathesis' report (FAILURES, ERRORS, WARNINGS), '' when absent."""
    match = re.search(rf"=+ {name} =+\n(.*?)(?:\n=+ [A-Z]+ =+|\Z)", output, re.S)
    return match.group(1).strip() if match else ""


def requests_by_status(kos_url: str) -> tuple[int, int]:
    """(requests answered on the KOS port, of which 5xx), from the server's /metrics."""
    total = errors = 0
    for line in httpx.get(f"{kos_url}/metrics", timeout=30).text.splitlines():
        if line.startswith("kosha_http_requests_total{") and 'port="s3"' not in line:
            value = int(float(line.rsplit(" ", 1)[1]))
            total += value
            errors += value if re.search(r'status="5', line) else 0
    return total, errors
