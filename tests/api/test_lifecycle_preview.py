"""The lifecycle preview route and S3's x-amz-expiration header, on real servers: the preview
against `kosha lifecycle run --now` at the end of each day of its window, errors and
authorization, the header on GET and HEAD, and bounded memory on a large bucket."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from .kos_helpers import API, create_bucket, expect, put_object, upload
from .test_write_path import rss_bytes

REPO = Path(__file__).resolve().parents[2]
DAY = 86400
MiB = 1024 * 1024
COUNTS = {"expired": "objects", "noncurrent_removed": "noncurrentVersions",
          "delete_markers_removed": "deleteMarkers", "uploads_aborted": "uploads"}


def preview_url(bucket: str) -> str:
    return f"{API}/buckets/{bucket}/lifecycle-rules/preview"


def rules_url(bucket: str) -> str:
    return f"{API}/buckets/{bucket}/lifecycle-rules"


def up_to(rule: dict[str, Any], as_of: date, day: int, field: str) -> int:
    """The preview's count of `field` from today up to and including `day`."""
    return sum(e[field] for e in rule["timeline"] if (date.fromisoformat(e["date"]) - as_of).days <= day)


def lifecycle_run(data: Path, now: datetime) -> dict[str, int]:
    """`kosha lifecycle run --now` on a copy of a stopped server's data: what one run removes."""
    copy = data.parent / f"copy-{time.time_ns()}"
    shutil.copytree(data, copy)
    try:
        done = subprocess.run([sys.executable, "-m", "kosha", "lifecycle", "run", "--data", str(copy),
                               "--now", now.isoformat()], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout[done.stdout.index("{"):]))
    finally:
        shutil.rmtree(copy)


def expiry(last_modified: datetime, days: int) -> str:
    return format_datetime((last_modified + timedelta(days=days)).astimezone(timezone.utc), usegmt=True)


def at_offset(srv: Any, client: Any, days: float) -> None:
    """Restart `srv` with its clock `days` from now (negative: the past)."""
    srv.extra_env["KOSHA_CLOCK_OFFSET"] = str(days * DAY)
    srv.restart()
    client.relogin()


def test_the_preview_matches_lifecycle_runs_at_the_end_of_each_day(start_server: Any) -> None:
    srv = start_server(env={"KOSHA_CLOCK_OFFSET": str(-20 * DAY)})
    client = srv.operator()
    bucket = create_bucket(client, versioning=True)["bucketName"]
    put_object(client, bucket, "logs/a", b"1" * 10)
    put_object(client, bucket, "logs/b", b"2" * 20)
    put_object(client, bucket, "keep/c", b"3" * 30)
    upload_id = expect(client.post(f"{API}/buckets/{bucket}/uploads", json={"objectkey": "logs/u"}), 201)["uploadId"]
    expect(client.put(f"{API}/buckets/{bucket}/uploads/{upload_id}/parts/1", content=b"u" * 1000), 200)
    at_offset(srv, client, -8)
    put_object(client, bucket, "logs/a", b"4" * 40)                          # 10 bytes noncurrent now
    expect(client.post(f"{API}/buckets/{bucket}/objects/delete", json={"objectkey": "logs/b"}), 200)
    at_offset(srv, client, 0)
    expect(client.post(rules_url(bucket), json={
        "name": "logs", "prefix": "logs/", "expiration_days": 10, "noncurrent_days": 5,
        "expired_obj_delete_marker": True, "delete_incomplete_mpu": 25}), 201)
    answer = expect(client.get(preview_url(bucket), params={"days": 7}), 200)
    srv.stop()

    [rule] = answer["rules"]
    assert (answer["bucket"], answer["days"], rule["name"], rule["prefix"]) == (bucket, 7, "logs", "logs/")
    assert rule["totals"] == {"objects": 1, "bytes": 40, "noncurrentVersions": 2, "noncurrentBytes": 30,
                              "deleteMarkers": 1, "uploads": 1, "uploadBytes": 1000}
    as_of = datetime.fromisoformat(answer["asOf"].replace("Z", "+00:00"))
    midnight = datetime.combine(as_of.date(), datetime.min.time(), timezone.utc)
    for day in range(8):
        ran = lifecycle_run(srv.data_dir, midnight + timedelta(days=day + 1))
        assert {field: ran[count] for count, field in COUNTS.items()} == {
            field: up_to(rule, as_of.date(), day, field) for field in COUNTS.values()}, day


# -- the route's contract ---------------------------------------------------------------------

@pytest.fixture
def bucket(account: Any) -> str:
    name = create_bucket(account)["bucketName"]
    put_object(account, name, "tmp/x", b"12345")
    return str(name)


def test_the_answer_lists_every_rule_with_what_is_due(account: Any, bucket: str) -> None:
    expect(account.post(rules_url(bucket), json={"name": "now", "prefix": "tmp/", "expiration_days": 0}), 201)
    expect(account.post(rules_url(bucket), json={"name": "off", "expiration_days": 0, "enabled": False}), 201)
    answer = expect(account.get(preview_url(bucket)), 200)
    assert answer["days"] == 30 and answer["asOf"].endswith("Z")
    now, off = answer["rules"]
    assert [e["objects"] for e in now["timeline"]] == [1] and now["timeline"][0]["bytes"] == 5
    assert now["timeline"][0]["date"] == answer["asOf"][:10]
    assert [(s["key"], s["kind"], s["size"]) for s in now["sample"]] == [("tmp/x", "object", 5)]
    assert (off["enabled"], off["timeline"], off["totals"]["objects"]) == (False, [], 0)
    only = expect(account.get(preview_url(bucket), params={"rule": off["id"], "days": 0}), 200)
    assert [r["name"] for r in only["rules"]] == ["off"]


@pytest.mark.parametrize("days", ["-1", "3651", "ten", "1.5"])
def test_days_outside_0_to_3650_is_400(account: Any, bucket: str, days: str) -> None:
    assert account.get(preview_url(bucket), params={"days": days}).status_code == 400


def test_unknown_rule_bucket_and_another_account_are_404(account: Any, bucket: str, new_account: Any) -> None:
    assert account.get(preview_url(bucket), params={"rule": "nope"}).status_code == 404
    assert account.get(preview_url("no-such-bucket-xyz")).status_code == 404
    assert new_account().get(preview_url(bucket)).status_code == 404


def test_a_member_without_get_lifecycle_is_403(member: Any, bucket: str) -> None:
    assert member.get(preview_url(bucket)).status_code == 403


def test_openapi_marks_the_route_as_an_extension(server: Any) -> None:
    doc = httpx.get(f"{server.kos_url}/openapi.json").json()
    op = doc["paths"]["/kos/v1/buckets/{bucketId}/lifecycle-rules/preview"]["get"]
    assert op["x-kosha-extension"] is True
    assert {p["name"] for p in op["parameters"]} >= {"bucketId", "days", "rule"}


# -- x-amz-expiration -------------------------------------------------------------------------

@pytest.fixture
def s3_bucket(account: Any, s3_client: Any) -> tuple[str, Any]:
    """A bucket of `account` and an S3 client of the same account."""
    return create_bucket(account)["bucketName"], s3_client(account.access_key, account.secret_key)


def test_get_and_head_tell_when_a_rule_expires_the_object(account: Any, s3_bucket: tuple[str, Any]) -> None:
    name, s3 = s3_bucket
    s3.put_object(Bucket=name, Key="logs/a", Body=b"a")
    s3.put_object(Bucket=name, Key="other", Body=b"o")
    assert "Expiration" not in s3.head_object(Bucket=name, Key="logs/a")       # no rule yet
    expect(account.post(rules_url(name), json={"name": "expire-logs", "prefix": "logs/", "expiration_days": 30}), 201)
    expect(account.post(rules_url(name), json={"name": "later", "expiration_days": 90}), 201)
    head = s3.head_object(Bucket=name, Key="logs/a")
    assert head["Expiration"] == f'expiry-date="{expiry(head["LastModified"], 30)}", rule-id="expire-logs"'
    assert s3.get_object(Bucket=name, Key="logs/a")["Expiration"] == head["Expiration"]
    other = s3.get_object(Bucket=name, Key="other")
    assert other["Expiration"] == f'expiry-date="{expiry(other["LastModified"], 90)}", rule-id="later"'


def test_no_header_without_an_expiring_rule(account: Any, s3_bucket: tuple[str, Any]) -> None:
    name, s3 = s3_bucket
    s3.put_object(Bucket=name, Key="k", Body=b"k")
    expect(account.post(rules_url(name), json={"name": "mpu", "delete_incomplete_mpu": 1}), 201)
    expect(account.post(rules_url(name), json={"name": "off", "expiration_days": 1, "enabled": False}), 201)
    expect(account.post(rules_url(name), json={"name": "elsewhere", "prefix": "x/", "expiration_days": 1}), 201)
    assert "Expiration" not in s3.head_object(Bucket=name, Key="k")
    assert "Expiration" not in s3.get_object(Bucket=name, Key="k")


# -- memory -----------------------------------------------------------------------------------

def test_a_preview_of_25k_objects_answers_in_bounded_memory(start_server: Any) -> None:
    srv = start_server()
    client = srv.operator()
    bucket = create_bucket(client)["bucketName"]
    small = create_bucket(client)["bucketName"]
    padding = "p" * 200     # long keys: rows held all at once would show
    batches = [[(f"{padding}{i:03d}-{j:04d}", b"x") for j in range(1000)] for i in range(25)]
    with ThreadPoolExecutor(8) as pool:
        for answer in pool.map(lambda files: upload(client, bucket, files), batches):
            expect(answer, 201)
    put_object(client, small, "k", b"x")
    for name in (bucket, small):
        expect(client.post(rules_url(name), json={"name": "all", "expiration_days": 0}), 201)
    expect(client.get(preview_url(small), params={"days": 3650}), 200)   # warm up the code path
    assert srv.process is not None
    baseline = peak = rss_bytes(srv.process.pid)
    answers: list[httpx.Response] = []
    done = threading.Event()

    def ask() -> None:
        answers.append(client.get(preview_url(bucket), params={"days": 3650}, timeout=120))
        done.set()

    threading.Thread(target=ask).start()
    while not done.wait(0.005):
        peak = max(peak, rss_bytes(srv.process.pid))
    [rule] = expect(answers[0], 200)["rules"]
    assert (rule["totals"]["objects"], rule["totals"]["bytes"], len(rule["sample"])) == (25000, 25000, 100)
    assert peak - baseline < 8 * MiB, f"server RSS grew by {(peak - baseline) / MiB:.1f} MiB"
