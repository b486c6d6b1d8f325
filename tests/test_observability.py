"""Request ids, the access log and /metrics (kosha/observe.py, kosha/metrics.py) on both ports."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

REGION = "In-Bangalore-1"


@pytest.fixture(scope="module")
def srv(server_factory: Callable[..., Any]) -> Any:
    return server_factory("--log-level", "info", "--access-log", "on",
                          "--lifecycle-interval", "1")


@pytest.fixture(scope="module")
def s3(srv: Any) -> Any:
    return boto3.client("s3", endpoint_url=srv.s3_url, region_name=REGION,
                        aws_access_key_id=srv.root_access_key,
                        aws_secret_access_key=srv.root_secret_key,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    name = f"obs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def _access_line(srv: Any, request_id: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in srv.log().splitlines():
            if f"request id={request_id} " in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


def _fields(line: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line.split("request ", 1)[1]))


def _samples(srv: Any) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(f"{srv.kos_url}/metrics").text
    return [(s.name, s.labels, s.value)
            for family in text_string_to_metric_families(text) for s in family.samples]


def _value(srv: Any, name: str, **labels: str) -> float:
    return sum(v for n, l, v in _samples(srv)
               if n == name and all(l.get(k) == want for k, want in labels.items()))


def test_kos_answers_carry_a_request_id(srv: Any) -> None:
    ok = httpx.get(f"{srv.kos_url}/healthz")
    missing = httpx.get(f"{srv.kos_url}/kos/v1/no-such-route")
    assert re.fullmatch(r"[0-9A-F]{16}", ok.headers["x-request-id"])
    assert missing.status_code == 404
    assert missing.json()["requestId"] == missing.headers["x-request-id"]
    assert missing.headers["x-request-id"] != ok.headers["x-request-id"]


def test_kos_error_is_logged_under_its_request_id(srv: Any) -> None:
    answer = httpx.post(f"{srv.kos_url}/kos/v1/sessions/activate?otp=123456&prefix=a",
                        json={"accessKey": "KOSNOSUCHKEY00000000", "secretKey": "wrong"})
    fields = _fields(_access_line(srv, answer.json()["requestId"]))
    assert fields["port"] == "kos" and fields["method"] == "POST"
    assert fields["path"] == "/kos/v1/sessions/activate?otp=REDACTED&prefix=a"
    assert fields["status"] == "401" and fields["op"] == "activate"
    assert int(fields["in"]) == len(answer.request.content)
    assert int(fields["out"]) == len(answer.content)
    assert float(fields["ms"]) >= 0 and fields["client"] == "127.0.0.1"
    assert fields["principal"] == "-"


def test_s3_request_is_logged_with_its_request_id_and_principal(srv: Any, s3: Any,
                                                                bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="logged", Body=b"x" * 1000)
    request_id = put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    fields = _fields(_access_line(srv, request_id))
    assert fields["port"] == "s3" and fields["op"] == "PutObject" and fields["status"] == "200"
    assert fields["principal"] == srv.root_access_key and int(fields["in"]) >= 1000


def test_s3_error_request_id_is_the_header_and_the_log_id(srv: Any) -> None:
    answer = httpx.get(f"{srv.s3_url}/no-such-bucket-{uuid.uuid4().hex[:8]}/k")
    request_id = answer.headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>" in answer.text
    assert _fields(_access_line(srv, request_id))["status"] == str(answer.status_code)


def test_presigned_credentials_are_not_logged(srv: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared"})
    answer = httpx.get(url)
    assert answer.status_code == 200
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)   # type: ignore[union-attr]
    line = _access_line(srv, answer.headers["x-amz-request-id"])
    assert signature not in srv.log() and srv.root_access_key + "%2F" not in line
    assert "X-Amz-Signature=REDACTED" in line and "X-Amz-Credential=REDACTED" in line


def test_access_log_off_writes_no_request_lines(start_server: Callable[..., Any]) -> None:
    quiet = start_server("--log-level", "info", "--access-log", "off")
    request_id = httpx.get(f"{quiet.kos_url}/healthz").headers["x-request-id"]
    time.sleep(0.3)
    assert request_id not in quiet.log() and "request id=" not in quiet.log()


def test_access_log_sample_rate_logs_about_that_share(start_server: Callable[..., Any]) -> None:
    sampled = start_server("--log-level", "info", "--access-log", "0.25")
    with httpx.Client(base_url=sampled.kos_url) as http:
        for _ in range(400):
            http.get("/healthz")
    time.sleep(0.3)
    logged = sampled.log().count("request id=")
    assert 50 <= logged <= 150, logged


def test_metrics_count_requests_by_port_operation_and_status(srv: Any, s3: Any,
                                                             bucket: str) -> None:
    before = _value(srv, "kosha_http_requests_total", port="s3", operation="PutObject",
                    status="200")
    s3.put_object(Bucket=bucket, Key="counted", Body=b"y" * 5000)
    assert _value(srv, "kosha_http_requests_total", port="s3", operation="PutObject",
                  status="200") == before + 1
    assert _value(srv, "kosha_http_request_duration_seconds_count", port="s3",
                  operation="PutObject") >= 1
    assert _value(srv, "kosha_http_bytes_total", port="s3", direction="in") >= 5000
    httpx.get(f"{srv.kos_url}/healthz")
    assert _value(srv, "kosha_http_requests_total", port="kos", operation="healthz",
                  status="200") >= 1


def test_metrics_count_the_database_commits_and_the_writes_they_carry(srv: Any, s3: Any,
                                                                     bucket: str) -> None:
    commits = _value(srv, "kosha_db_write_commits_total")
    writes = _value(srv, "kosha_db_writes_total")
    s3.put_object(Bucket=bucket, Key="committed", Body=b"c" * 100)
    assert _value(srv, "kosha_db_write_commits_total") >= commits + 1
    assert _value(srv, "kosha_db_writes_total") >= writes + 1


def test_metrics_report_each_buckets_usage(srv: Any, s3: Any) -> None:
    name = f"usage-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="a", Body=b"z" * 300)
    s3.put_object(Bucket=name, Key="b", Body=b"z" * 700)
    assert _value(srv, "kosha_bucket_used_bytes", bucket=name) == 1000
    assert _value(srv, "kosha_bucket_objects", bucket=name) == 2


def test_metrics_report_uploads_in_flight(srv: Any) -> None:
    host, port = srv.kos_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /kos/v1/sessions/activate HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.2)
        assert _value(srv, "kosha_uploads_in_flight") == 1
    time.sleep(0.2)
    assert _value(srv, "kosha_uploads_in_flight") == 0


def test_metrics_report_background_runs(srv: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (_value(srv, "kosha_background_runs_total", task="lifecycle", result="ok") >= 1
                and _value(srv, "kosha_background_runs_total", task="gc", result="ok") >= 1):
            break
        time.sleep(0.3)
    assert _value(srv, "kosha_background_runs_total", task="gc", result="ok") >= 1
    assert _value(srv, "kosha_background_last_success_time_seconds", task="lifecycle") > 0


def test_metrics_count_refusals_of_the_limits(srv: Any) -> None:
    before = _value(srv, "kosha_http_refused_total", port="kos", status="414")
    host, port = srv.kos_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /" + b"a" * (17 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 414")
    assert _value(srv, "kosha_http_refused_total", port="kos", status="414") == before + 1
