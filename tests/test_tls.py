"""`--tls-cert`/`--tls-key`: both ports over HTTPS, with a self-signed certificate made here.

Over HTTPS boto3's default upload path changes: PutObject streams `aws-chunked` with
`x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` and a CRC32 trailer (botocore only
uses trailers over TLS), which these tests drive end to end.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REGION = "In-Bangalore-1"
MiB = 1024 * 1024


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA (clients trust the file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kosha-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(server_factory: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
               ) -> Any:
    cert, key = make_self_signed(tmp_path_factory.mktemp("tls"))
    return server_factory("--tls-cert", str(cert), "--tls-key", str(key))


@pytest.fixture(scope="module")
def tls_user(tls_server: Any) -> Iterator[Any]:
    root = tls_server.operator()
    user = tls_server.new_user(root, tls_server.new_account(root), admin=True)
    yield user
    user.close()
    root.close()


@pytest.fixture(scope="module")
def s3(tls_server: Any, tls_user: Any) -> Any:
    """boto3 with its default settings, trusting the test certificate."""
    return boto3.client("s3", endpoint_url=tls_server.s3_url, region_name=REGION,
                        aws_access_key_id=tls_user.access_key,
                        aws_secret_access_key=tls_user.secret_key,
                        verify=tls_server.tls_cert)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"tls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def test_s3_port_answers_over_https(tls_server: Any, s3: Any, bucket: str) -> None:
    assert tls_server.s3_url.startswith("https://")
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_plain_http_to_the_tls_port_gets_no_s3_answer(tls_server: Any) -> None:
    try:
        r = httpx.get(f"http://127.0.0.1:{tls_server.s3_port}/", timeout=5)
    except httpx.HTTPError:
        return
    assert "<ListAllMyBucketsResult" not in r.text


def test_default_boto3_put_streams_an_unsigned_trailer_with_crc32(s3: Any, bucket: str) -> None:
    sent: dict[str, str] = {}

    def remember(request: Any, **_: Any) -> None:
        sent.update({k.lower(): v.decode() if isinstance(v, bytes) else v
                     for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", remember)
    body = os.urandom(300 * 1024)
    try:
        s3.put_object(Bucket=bucket, Key="trailer", Body=body)
    finally:
        s3.meta.events.unregister("before-send.s3.PutObject", remember)
    assert sent["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent["x-amz-trailer"] == "x-amz-checksum-crc32"
    head = s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == body


def test_upload_file_of_20_mib_goes_in_parts_and_reads_back(s3: Any, bucket: str,
                                                            tmp_path: Path) -> None:
    data = os.urandom(20 * MiB)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    s3.upload_file(str(path), bucket, "big.bin",
                   Config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB))
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    got = s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_sigv4_header_signed_put_over_https(tls_server: Any, tls_user: Any, bucket: str) -> None:
    v4 = boto3.client("s3", endpoint_url=tls_server.s3_url, region_name=REGION,
                      aws_access_key_id=tls_user.access_key,
                      aws_secret_access_key=tls_user.secret_key, verify=tls_server.tls_cert,
                      config=Config(s3={"payload_signing_enabled": True}))
    v4.put_object(Bucket=bucket, Key="signed", Body=b"signed payload")
    assert v4.get_object(Bucket=bucket, Key="signed")["Body"].read() == b"signed payload"


def test_presigned_url_from_the_kos_api_is_https(tls_server: Any, tls_user: Any, s3: Any,
                                                 bucket: str) -> None:
    r = tls_user.put(f"/kos/v1/buckets/{bucket}/objects", json={"prefix": "via-kos.txt"})
    assert r.status_code == 201, r.text
    url = r.json()["uploadPreSignedUrl"]
    assert url.startswith(tls_server.s3_url + "/")
    put = httpx.put(url, content=b"kos", verify=tls_server.verify)
    assert put.status_code == 200, put.text
    assert s3.get_object(Bucket=bucket, Key="via-kos.txt")["Body"].read() == b"kos"


def test_rest_api_answers_over_https(tls_server: Any, tls_user: Any, bucket: str) -> None:
    assert tls_server.kos_url.startswith("https://")
    r = tls_user.get("/kos/v1/buckets")
    assert r.status_code == 200
    assert bucket in r.text


def test_console_session_cookie_is_secure_over_https(tls_server: Any, tls_user: Any) -> None:
    with tls_server.http() as http:
        r = http.post("/console/api/login", json={"accessKey": tls_user.access_key,
                                                  "secretKey": tls_user.secret_key})
    assert r.status_code == 200, r.text
    attributes = [a.strip().lower() for a in r.headers["set-cookie"].split(";")]
    assert "secure" in attributes and "httponly" in attributes


def test_aws_cli_with_ca_bundle(tls_server: Any, tls_user: Any, bucket: str,
                                tmp_path: Path) -> None:
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the aws CLI is not installed")
    env = {**os.environ, "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": tls_user.access_key,
           "AWS_SECRET_ACCESS_KEY": tls_user.secret_key, "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}
    src = tmp_path / "cli.txt"
    src.write_bytes(b"from the cli")
    base = [aws, "--endpoint-url", tls_server.s3_url, "--ca-bundle", tls_server.tls_cert]
    subprocess.run([*base, "s3", "cp", str(src), f"s3://{bucket}/cli.txt"], env=env,
                   check=True, capture_output=True, timeout=120)
    out = subprocess.run([*base, "s3", "ls", f"s3://{bucket}/"], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    assert "cli.txt" in out


def test_aws_cli_without_the_ca_bundle_refuses_the_certificate(tls_server: Any, tls_user: Any,
                                                               tmp_path: Path) -> None:
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the aws CLI is not installed")
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    env.update({"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": tls_user.access_key,
                "AWS_SECRET_ACCESS_KEY": tls_user.secret_key, "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": str(tmp_path / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"})
    done = subprocess.run([aws, "--endpoint-url", tls_server.s3_url, "s3", "ls"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "certificate" in done.stderr.lower()


def test_tls_cert_without_key_refuses_to_start(tmp_path: Path) -> None:
    cert, _key = make_self_signed(tmp_path)
    done = subprocess.run([sys.executable, "-m", "kosha", "serve", "--data", str(tmp_path / "d"),
                           "--tls-cert", str(cert)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode != 0 and "--tls-key" in done.stderr


def test_unreadable_key_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    cert, _key = make_self_signed(tmp_path)
    wrong = tmp_path / "wrong.pem"
    wrong.write_text("not a key")
    done = subprocess.run([sys.executable, "-m", "kosha", "serve", "--data", str(tmp_path / "d"),
                           "--tls-cert", str(cert), "--tls-key", str(wrong)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode != 0 and "cannot load the TLS certificate" in done.stderr


def test_bucket_policy_sees_secure_transport_over_https(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_workers_serve_https_too(server_factory: Callable[..., Any],
                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    cert, key = make_self_signed(tmp_path_factory.mktemp("tls-workers"))
    several = server_factory("--workers", "2", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        r = httpx.get(several.s3_url + "/", verify=several.verify)
        assert (r.status_code, "<Code>AccessDenied</Code>" in r.text) == (403, True)
        assert httpx.get(several.kos_url + "/healthz", verify=several.verify).status_code == 200
    finally:
        several.stop()
