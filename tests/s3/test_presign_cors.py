"""Pre-signed GET/PUT/POST with curl, expiry, and CORS as browsers use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl; answer (status, lowercase headers, body)."""
    out = subprocess.run(["curl", "-s", "-S", "-i", *args], capture_output=True, check=True,
                         timeout=120).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 100"):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def test_presigned_get_and_put_with_curl(s3, bucket, tmp_path):
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.bin"},
                                        ExpiresIn=300)
    f = tmp_path / "up.bin"
    f.write_bytes(b"uploaded by curl" * 1000)
    status, headers, _ = curl("-T", str(f), put_url)
    assert status == 200 and headers["etag"]
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "up.bin"},
                                        ExpiresIn=300)
    status, headers, body = curl(get_url)
    assert status == 200 and body == f.read_bytes()
    # tampering with the URL breaks the signature
    status, _, body = curl(get_url.replace("up.bin", "other.bin"))
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_presigned_url_with_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": "attachment; filename=y"})
    status, headers, _ = curl(url)
    assert status == 200 and headers["content-disposition"] == "attachment; filename=y"


def test_expired_presigned_url_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="e", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "e"},
                                    ExpiresIn=1)
    time.sleep(2.2)
    status, _, body = curl(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body


def test_presigned_post_with_curl(s3, bucket, tmp_path):
    post = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"acl": "private", "Content-Type": "text/plain", "x-amz-meta-who": "curl"},
        Conditions=[{"acl": "private"}, ["starts-with", "$key", "uploads/"],
                    ["starts-with", "$Content-Type", "text/"], {"x-amz-meta-who": "curl"},
                    ["content-length-range", 1, 1024 * 1024]],
        ExpiresIn=300)
    f = tmp_path / "hello.txt"
    f.write_bytes(b"hello from a form")
    args = []
    for k, v in post["fields"].items():
        args += ["-F", f"{k}={v}"]
    args += ["-F", f"file=@{f}"]
    status, headers, _ = curl(*args, post["url"])
    assert status == 204, headers
    o = s3.get_object(Bucket=bucket, Key="uploads/hello.txt")
    assert o["Body"].read() == b"hello from a form"
    assert o["ContentType"] == "text/plain" and o["Metadata"] == {"who": "curl"}
    # success_action_status 201 answers the PostResponse document
    post = s3.generate_presigned_post(bucket, "k201", Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    r = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"abc")})
    assert r.status_code == 201 and "<Key>k201</Key>" in r.text


def test_presigned_post_policy_violations(s3, bucket):
    post = s3.generate_presigned_post(bucket, "allowed/x",
                                      Conditions=[["content-length-range", 1, 10]])
    fields = dict(post["fields"])
    r = httpx.post(post["url"], data=fields, files={"file": ("f", b"x" * 11)})
    assert r.status_code == 400 and "EntityTooLarge" in r.text
    fields["key"] = "elsewhere/x"
    r = httpx.post(post["url"], data=fields, files={"file": ("f", b"x")})
    assert r.status_code == 403 and "AccessDenied" in r.text
    fields = dict(post["fields"])
    fields["x-amz-signature"] = "0" * 64
    r = httpx.post(post["url"], data=fields, files={"file": ("f", b"x")})
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    fields = dict(post["fields"])
    fields["x-amz-meta-extra"] = "not in the policy"
    r = httpx.post(post["url"], data=fields, files={"file": ("f", b"x")})
    assert r.status_code == 403
    for key in ("allowed/x", "elsewhere/x"):
        with pytest.raises(Exception):
            s3.head_object(Bucket=bucket, Key=key)


def test_cors_preflight_and_actual_request(s3, bucket, server):
    s3.put_object(Bucket=bucket, Key="c.txt", Body=b"cors")
    origin = "https://app.example.com"
    # no configuration: preflight refused
    status, _, body = curl("-X", "OPTIONS", "-H", f"Origin: {origin}",
                           "-H", "Access-Control-Request-Method: PUT",
                           f"{server.s3_url}/{bucket}/c.txt")
    assert status == 403
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT", "POST"],
        "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3000}]})
    status, headers, _ = curl(
        "-X", "OPTIONS", "-H", f"Origin: {origin}", "-H", "Access-Control-Request-Method: PUT",
        "-H", "Access-Control-Request-Headers: content-type,x-amz-meta-a",
        f"{server.s3_url}/{bucket}/c.txt")
    assert status == 200
    assert headers["access-control-allow-origin"] == origin
    assert "PUT" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-a"
    assert headers["access-control-expose-headers"] == "ETag"
    assert headers["access-control-max-age"] == "3000"
    # a header the rule does not allow, a foreign origin, a method not allowed
    for extra in (["-H", f"Origin: {origin}", "-H", "Access-Control-Request-Method: PUT",
                   "-H", "Access-Control-Request-Headers: authorization"],
                  ["-H", "Origin: https://evil.test", "-H", "Access-Control-Request-Method: GET"],
                  ["-H", f"Origin: {origin}", "-H", "Access-Control-Request-Method: DELETE"]):
        status, headers, _ = curl("-X", "OPTIONS", *extra, f"{server.s3_url}/{bucket}/c.txt")
        assert status == 403 and "access-control-allow-origin" not in headers
    # the actual (pre-signed) request carries the CORS headers
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "c.txt"})
    status, headers, body = curl("-H", f"Origin: {origin}", url)
    assert status == 200 and body == b"cors"
    assert headers["access-control-allow-origin"] == origin
    assert headers["access-control-expose-headers"] == "ETag"
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "b.txt"})
    r = httpx.put(put, content=b"from browser", headers={"Origin": origin})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin


def test_kos_upload_url_works_on_s3_port(s3_user, bucket, s3):
    r = s3_user.put(f"/kos/v1/buckets/{bucket}/objects", json={"prefix": "from-kos.txt"})
    assert r.status_code == 201, r.text
    url = r.json()["uploadPreSignedUrl"]
    status, _, _ = curl("-X", "PUT", "--data-binary", "browser bytes", url)
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="from-kos.txt")["Body"].read() == b"browser bytes"
    r = s3_user.post(f"/kos/v1/buckets/{bucket}/objects/download",
                     json={"objectkey": "from-kos.txt"})
    assert r.status_code == 200, r.text
    status, _, body = curl(json.loads(r.text)["preSignedUrl"])
    assert status == 200 and body == b"browser bytes"
