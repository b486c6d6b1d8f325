"""Signature V2 on the S3 port: boto3's `s3` signer, its default pre-signed URLs, raw requests
signed here with HMAC-SHA1, and POST object policies signed with V2."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3_helpers import REGION


def v2_client(server: Any, user: Any, **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=server.s3_url, region_name=REGION,
                        aws_access_key_id=user.access_key, aws_secret_access_key=user.secret_key,
                        config=Config(signature_version="s3", retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}, **config))


def default_client(server: Any, user: Any) -> Any:
    """boto3 as a user writes it: no signature version, no region (V2 pre-signed URLs)."""
    return boto3.client("s3", endpoint_url=server.s3_url, aws_access_key_id=user.access_key,
                        aws_secret_access_key=user.secret_key)


def sign_v2(secret: str, text: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()


def http_date(t: datetime) -> str:
    return format_datetime(t.astimezone(timezone.utc), usegmt=True)


def code(response: httpx.Response) -> str:
    text = response.text
    return text[text.find("<Code>") + 6:text.find("</Code>")]


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture
def v2(server: Any, s3_user: Any) -> Any:
    return v2_client(server, s3_user)


# ------------------------------------------------------------------------- header auth (boto3)

def test_v2_client_creates_lists_and_deletes_a_bucket(v2: Any, s3: Any, bucket: str) -> None:
    name = bucket + "-v2"
    v2.create_bucket(Bucket=name)
    try:
        assert name in [b["Name"] for b in v2.list_buckets()["Buckets"]]
        v2.head_bucket(Bucket=name)
    finally:
        v2.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_v2_client_puts_gets_and_deletes_objects(v2: Any, bucket: str) -> None:
    v2.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"hello v2", ContentType="text/plain",
                  Metadata={"color": "blue"})
    got = v2.get_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert got["Body"].read() == b"hello v2"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"color": "blue"}
    assert [o["Key"] for o in v2.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]] \
        == ["dir/a b+c.txt"]
    v2.delete_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert v2.list_objects(Bucket=bucket).get("Contents", []) == []


def test_v2_client_signs_acl_and_tagging_sub_resources(v2: Any, bucket: str) -> None:
    v2.put_object(Bucket=bucket, Key="k", Body=b"x")
    v2.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    grants = v2.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    v2.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
    assert v2.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "t", "Value": "1"}]
    v2.get_bucket_acl(Bucket=bucket)


def test_v2_client_signs_version_ids(v2: Any, bucket: str) -> None:
    v2.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = v2.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    v2.put_object(Bucket=bucket, Key="v", Body=b"two")
    assert v2.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"one"
    assert len(v2.list_object_versions(Bucket=bucket)["Versions"]) == 2


def test_v2_client_runs_a_multipart_upload(v2: Any, bucket: str) -> None:
    uid = v2.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = b"p" * (5 * 1024 * 1024)
    etag = v2.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=part)["ETag"]
    assert [u["UploadId"] for u in v2.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    assert v2.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"][0]["ETag"] == etag
    v2.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert v2.head_object(Bucket=bucket, Key="mp")["ContentLength"] == len(part)


def test_v2_wrong_secret_is_signature_does_not_match(server: Any, s3_user: Any,
                                                     bucket: str) -> None:
    class Wrong:
        access_key, secret_key = s3_user.access_key, "x" * 40
    with pytest.raises(ClientError) as e:
        v2_client(server, Wrong).list_objects(Bucket=bucket)
    assert err(e) == (403, "SignatureDoesNotMatch")


def test_v2_unknown_key_is_invalid_access_key_id(server: Any, bucket: str) -> None:
    class Unknown:
        access_key, secret_key = "KOSNOSUCHKEY00000000", "x" * 40
    with pytest.raises(ClientError) as e:
        v2_client(server, Unknown).list_objects(Bucket=bucket)
    assert err(e) == (403, "InvalidAccessKeyId")


# ------------------------------------------------------------------- raw requests signed here

def raw_v2(server: Any, user: Any, method: str, path: str, *, date: datetime | None = None,
           headers: dict[str, str] | None = None, body: bytes = b"",
           resource: str | None = None, secret: str | None = None) -> httpx.Response:
    headers = dict(headers or {})
    headers.setdefault("Date", http_date(date or datetime.now(timezone.utc)))
    amz = "".join(f"{k.lower()}:{v}\n" for k, v in sorted(headers.items(), key=lambda i: i[0].lower())
                  if k.lower().startswith("x-amz-"))
    date_line = "" if any(k.lower() == "x-amz-date" for k in headers) else headers["Date"]
    sts = "\n".join([method, headers.get("Content-MD5", ""), headers.get("Content-Type", ""),
                     date_line, amz + (resource or path)])
    headers["Authorization"] = f"AWS {user.access_key}:{sign_v2(secret or user.secret_key, sts)}"
    return httpx.request(method, server.s3_url + path, headers=headers, content=body or None)


def test_raw_v2_put_with_content_md5_and_amz_headers(server: Any, s3_user: Any, s3: Any,
                                                     bucket: str) -> None:
    body = b"raw body"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw_v2(server, s3_user, "PUT", f"/{bucket}/raw", body=body, headers={
        "Content-MD5": md5, "Content-Type": "text/x-raw", "x-amz-meta-b": "2",
        "X-Amz-Meta-A": "1"})
    assert r.status_code == 200, r.text
    head = s3.head_object(Bucket=bucket, Key="raw")
    assert head["ContentType"] == "text/x-raw" and head["Metadata"] == {"a": "1", "b": "2"}


def test_raw_v2_get_with_sub_resource(server: Any, s3_user: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b")
    r = raw_v2(server, s3_user, "GET", f"/{bucket}/k?tagging")
    assert r.status_code == 200 and "<Key>a</Key>" in r.text


def test_raw_v2_unsigned_sub_resource_is_refused(server: Any, s3_user: Any, s3: Any,
                                                 bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = raw_v2(server, s3_user, "GET", f"/{bucket}/k?acl", resource=f"/{bucket}/k")
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")


def test_raw_v2_x_amz_date_overrides_date(server: Any, s3_user: Any, bucket: str) -> None:
    now = datetime.now(timezone.utc)
    r = raw_v2(server, s3_user, "GET", f"/{bucket}", date=now - timedelta(hours=2),
               headers={"x-amz-date": http_date(now)})
    assert r.status_code == 200, r.text


def test_raw_v2_skewed_date_is_request_time_too_skewed(server: Any, s3_user: Any,
                                                       bucket: str) -> None:
    r = raw_v2(server, s3_user, "GET", f"/{bucket}",
               date=datetime.now(timezone.utc) - timedelta(minutes=20))
    assert (r.status_code, code(r)) == (403, "RequestTimeTooSkewed")


def test_raw_v2_date_within_skew_is_accepted(server: Any, s3_user: Any, bucket: str) -> None:
    r = raw_v2(server, s3_user, "GET", f"/{bucket}",
               date=datetime.now(timezone.utc) - timedelta(minutes=10))
    assert r.status_code == 200


def test_raw_v2_tampered_signature_is_signature_does_not_match(server: Any, s3_user: Any,
                                                               bucket: str) -> None:
    r = raw_v2(server, s3_user, "GET", f"/{bucket}", secret="y" * 40)
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")
    assert "<StringToSign>GET\n\n\n" in r.text


def test_raw_v2_without_date_is_access_denied(server: Any, s3_user: Any, bucket: str) -> None:
    sts = f"GET\n\n\n\n/{bucket}"
    r = httpx.get(f"{server.s3_url}/{bucket}", headers={
        "Authorization": f"AWS {s3_user.access_key}:{sign_v2(s3_user.secret_key, sts)}"})
    assert (r.status_code, code(r)) == (403, "AccessDenied")


# ---------------------------------------------------------------------------- pre-signed URLs

def test_default_boto3_presigned_get_is_v2_and_works(server: Any, s3_user: Any, s3: Any,
                                                     bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="p/q r.txt", Body=b"presigned")
    url = default_client(server, s3_user).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p/q r.txt"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "X-Amz-" not in url
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == b"presigned"


def test_v2_presigned_get_with_response_override(server: Any, s3_user: Any, s3: Any,
                                                 bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = v2_client(server, s3_user).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k",
                              "ResponseContentType": "text/x-override"})
    r = httpx.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "text/x-override"


def test_v2_presigned_put_stores_the_body(server: Any, s3_user: Any, s3: Any,
                                          bucket: str) -> None:
    url = default_client(server, s3_user).generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up"}, ExpiresIn=60)
    r = httpx.put(url, content=b"uploaded")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"uploaded"


def test_v2_presigned_put_with_signed_content_type(server: Any, s3_user: Any, s3: Any,
                                                   bucket: str) -> None:
    url = v2_client(server, s3_user).generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "typed", "ContentType": "image/png"})
    assert httpx.put(url, content=b"png", headers={"Content-Type": "image/png"}).status_code == 200
    assert s3.head_object(Bucket=bucket, Key="typed")["ContentType"] == "image/png"
    r = httpx.put(url, content=b"png", headers={"Content-Type": "text/plain"})
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")


def test_expired_v2_url_is_request_has_expired(server: Any, s3_user: Any, bucket: str) -> None:
    expires = int(time.time()) - 5
    sts = f"GET\n\n\n{expires}\n/{bucket}/k"
    sig = sign_v2(s3_user.secret_key, sts)
    r = httpx.get(f"{server.s3_url}/{bucket}/k", params={
        "AWSAccessKeyId": s3_user.access_key, "Expires": str(expires), "Signature": sig})
    assert (r.status_code, code(r)) == (403, "AccessDenied")
    assert "Request has expired" in r.text


def test_tampered_v2_url_is_signature_does_not_match(server: Any, s3_user: Any, s3: Any,
                                                     bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = default_client(server, s3_user).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"})
    r = httpx.get(url.replace(f"/{bucket}/k?", f"/{bucket}/other?"))
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")


def test_v2_url_missing_expires_is_access_denied(server: Any, s3_user: Any, bucket: str) -> None:
    r = httpx.get(f"{server.s3_url}/{bucket}/k",
                  params={"AWSAccessKeyId": s3_user.access_key, "Signature": "abc"})
    assert (r.status_code, code(r)) == (403, "AccessDenied")


def test_v4_presigned_expires_over_a_week_is_refused(server: Any, s3_user: Any,
                                                     bucket: str) -> None:
    v4 = boto3.client("s3", endpoint_url=server.s3_url, region_name=REGION,
                      aws_access_key_id=s3_user.access_key,
                      aws_secret_access_key=s3_user.secret_key,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"},
                                    ExpiresIn=604801)
    r = httpx.get(url)
    assert (r.status_code, code(r)) == (400, "AuthorizationQueryParametersError")


# --------------------------------------------------------------------------------- POST object

def post_v2(server: Any, bucket: str, access_key: str, secret: str, key: str, body: bytes,
            conditions: list[Any] | None = None, expires_in: int = 300) -> httpx.Response:
    expiration = (datetime.now(timezone.utc) + timedelta(seconds=expires_in)
                  ).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(json.dumps({
        "expiration": expiration,
        "conditions": conditions if conditions is not None else [
            {"bucket": bucket}, ["starts-with", "$key", ""],
            {"acl": "private"}, ["starts-with", "$Content-Type", "text/"],
            ["content-length-range", 0, 1024]]}).encode()).decode()
    fields = {"key": key, "AWSAccessKeyId": access_key, "acl": "private",
              "signature": sign_v2(secret, policy), "policy": policy,
              "Content-Type": "text/plain"}
    return httpx.post(f"{server.s3_url}/{bucket}", data=fields,
                      files={"file": ("f.txt", body)})


def test_post_object_with_v2_policy_stores_the_file(server: Any, s3_user: Any, s3: Any,
                                                    bucket: str) -> None:
    r = post_v2(server, bucket, s3_user.access_key, s3_user.secret_key, "posted.txt", b"form")
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=bucket, Key="posted.txt")
    assert got["Body"].read() == b"form" and got["ContentType"] == "text/plain"


def test_post_object_with_wrong_v2_signature_is_refused(server: Any, s3_user: Any,
                                                        bucket: str) -> None:
    r = post_v2(server, bucket, s3_user.access_key, "z" * 40, "bad.txt", b"form")
    assert (r.status_code, code(r)) == (403, "SignatureDoesNotMatch")


def test_post_object_with_expired_v2_policy_is_refused(server: Any, s3_user: Any,
                                                       bucket: str) -> None:
    r = post_v2(server, bucket, s3_user.access_key, s3_user.secret_key, "late.txt", b"x",
                expires_in=-60)
    assert (r.status_code, code(r)) == (403, "AccessDenied")


def test_boto3_v2_presigned_post_works(server: Any, s3_user: Any, s3: Any, bucket: str) -> None:
    post = v2_client(server, s3_user).generate_presigned_post(bucket, "by-boto3")
    assert "AWSAccessKeyId" in post["fields"] and "signature" in post["fields"]
    r = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"boto3 v2")})
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="by-boto3")["Body"].read() == b"boto3 v2"


def test_post_object_key_from_filename_meets_the_policy(server: Any, s3_user: Any, s3: Any,
                                                       bucket: str) -> None:
    expiration = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", "foo"]]}).encode()).decode()
    r = httpx.post(f"{server.s3_url}/{bucket}", data={
        "key": "${filename}", "AWSAccessKeyId": s3_user.access_key, "policy": policy,
        "signature": sign_v2(s3_user.secret_key, policy)}, files={"file": ("foo.txt", b"bar")})
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="foo.txt")["Body"].read() == b"bar"


def test_post_object_policy_expiration_not_iso8601_utc_is_invalid(server: Any, s3_user: Any,
                                                                 bucket: str) -> None:
    expiration = str(datetime.now(timezone.utc) + timedelta(minutes=5))   # "2026-... +00:00"
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": bucket}, ["starts-with", "$key", ""]]}).encode()).decode()
    r = httpx.post(f"{server.s3_url}/{bucket}", data={
        "key": "k", "AWSAccessKeyId": s3_user.access_key, "policy": policy,
        "signature": sign_v2(s3_user.secret_key, policy)}, files={"file": ("f", b"x")})
    assert (r.status_code, code(r)) == (400, "InvalidPolicyDocument")
