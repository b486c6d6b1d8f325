"""Authentication failures, error documents, aws-chunked tampering."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
from unittest import mock

import httpx
import pytest
from botocore.exceptions import ClientError
from s3_helpers import REGION, make_client, raw_request


def err(e):
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_wrong_secret_is_signature_does_not_match(server, s3_user, bucket):
    bad = make_client(server, s3_user.access_key, "x" * 40)
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert err(e) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert err(e) == (403, "SignatureDoesNotMatch")


def test_unknown_access_key(server, bucket):
    bad = make_client(server, "KOSNOSUCHKEY00000000", "x" * 40)
    with pytest.raises(ClientError) as e:
        bad.list_buckets()
    assert err(e) == (403, "InvalidAccessKeyId")


def test_signature_v2_with_an_unknown_key_is_invalid_access_key_id(server, bucket):
    # Signature V2 is verified (tests/s3/test_sigv2.py); an unknown key is refused as with V4.
    r = httpx.get(f"{server.s3_url}/{bucket}", headers={
        "Authorization": "AWS KOSABCDEFGHIJKLMNOPQ:c2lnbmF0dXJl",
        "Date": email.utils.formatdate(usegmt=True)})
    assert r.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in r.text
    r = httpx.get(f"{server.s3_url}/{bucket}/k?AWSAccessKeyId=KOSX&Expires=4102444800&Signature=abc")
    assert r.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in r.text


def test_clock_skew_over_15_minutes_refused(s3, bucket):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime",
                    lambda remove_tzinfo=True: past.replace(tzinfo=None)):
        r = raw_request(s3, "GET", f"/{bucket}")
    assert r.status_code == 403 and "<Code>RequestTimeTooSkewed</Code>" in r.text
    near = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime",
                    lambda remove_tzinfo=True: near.replace(tzinfo=None)):
        r = raw_request(s3, "GET", f"/{bucket}")
    assert r.status_code == 200


def test_content_sha256_mismatch(s3, bucket):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    url = f"{s3.meta.endpoint_url}/{bucket}/sha"
    req = AWSRequest(method="PUT", url=url, data=b"actual body",
                     headers={"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()})
    SigV4Auth(s3._request_signer._credentials, "s3", REGION).add_auth(req)
    r = httpx.put(url, headers=dict(req.headers), content=b"actual body")
    assert r.status_code == 400 and "XAmzContentSHA256Mismatch" in r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="sha")


def test_error_document_shape(s3, bucket):
    r = raw_request(s3, "GET", f"/{bucket}/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/xml"
    assert r.headers["x-amz-request-id"]
    body = r.text
    for tag in ("<Code>NoSuchKey</Code>", "<Message>", "<Resource>", "<RequestId>",
                "<Key>nothing-here</Key>"):
        assert tag in body
    h = raw_request(s3, "HEAD", f"/{bucket}/nothing-here")
    assert h.status_code == 404 and h.content == b"" and h.headers["x-amz-request-id"]


def test_method_not_allowed_and_not_implemented(s3, bucket):
    r = raw_request(s3, "POST", f"/{bucket}/obj")
    assert r.status_code == 405 and "<Code>MethodNotAllowed</Code>" in r.text
    r = raw_request(s3, "GET", f"/{bucket}/obj?torrent")
    assert r.status_code == 501 and "<Code>NotImplemented</Code>" in r.text
    r = raw_request(s3, "PUT", f"/{bucket}?website", body=b"<WebsiteConfiguration/>")
    assert r.status_code == 501


def test_malformed_xml(s3, bucket):
    r = raw_request(s3, "PUT", f"/{bucket}?tagging", body=b"<Tagging><TagSet>")
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
            b"<Tagging><TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>")
    r = raw_request(s3, "PUT", f"/{bucket}?tagging", body=evil)
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text


# ------------------------------------------------------------------------ aws-chunked

def _signed_chunked_put(s3, bucket: str, key: str, data: bytes, chunk: int, tamper: bool):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    creds = s3._request_signer._credentials
    url = f"{s3.meta.endpoint_url}/{bucket}/{key}"
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    body_len = sum(len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + (2 if c else 0)
                   for c in chunks) + 2
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "content-length": str(body_len)}
    req = AWSRequest(method="PUT", url=url, headers=headers)
    SigV4Auth(creds, "s3", REGION).add_auth(req)
    auth = req.headers["Authorization"]
    seed = auth.rsplit("Signature=", 1)[1]
    amz_date = req.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    k = ("AWS4" + creds.secret_key).encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    empty = hashlib.sha256(b"").hexdigest()
    prev, out = seed, bytearray()
    for i, c in enumerate(chunks):
        sts = (f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n"
               f"{hashlib.sha256(c).hexdigest()}")
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        sent = c
        if tamper and i == 1:
            sent = bytes([c[0] ^ 1]) + c[1:]
        out += f"{len(c):x};chunk-signature={prev}\r\n".encode() + sent + (b"\r\n" if c else b"")
    out += b"\r\n"
    assert len(out) == body_len
    return httpx.put(url, headers=dict(req.headers), content=bytes(out), timeout=60)


def test_signed_aws_chunked_upload(s3, bucket):
    data = bytes(range(256)) * 1000
    r = _signed_chunked_put(s3, bucket, "chunked", data, 64 * 1024, tamper=False)
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == data
    assert got.get("ContentEncoding") in (None, "")     # aws-chunked is framing, not stored


def test_tampered_chunk_refused_and_nothing_stored(s3, bucket, s3_user):
    before = s3_user.get(f"/kos/v1/buckets/{bucket}").json()
    data = bytes(range(256)) * 1000
    r = _signed_chunked_put(s3, bucket, "tampered", data, 64 * 1024, tamper=True)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="tampered")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    after = s3_user.get(f"/kos/v1/buckets/{bucket}").json()
    assert _used(after) == _used(before)


def _used(bucket_json):
    b = bucket_json.get("data", bucket_json) if isinstance(bucket_json, dict) else bucket_json
    for k in ("usedCapacity", "used_capacity"):
        if k in b:
            return int(b[k])
    raise AssertionError(f"no usedCapacity in {bucket_json}")


def _trailer_put(s3, bucket: str, key: str, data: bytes, *, signed: bool, crc: str | None = None,
                 chunk: int = 8192, query: str = ""):
    """An aws-chunked PUT with an x-amz-checksum-crc32 trailer (signed or unsigned chunks)."""
    import base64
    import zlib
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    creds = s3._request_signer._credentials
    url = f"{s3.meta.endpoint_url}/{bucket}/{key}" + (f"?{query}" if query else "")
    crc = crc or base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    mode = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if signed
            else "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    headers = {"x-amz-content-sha256": mode, "content-encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32"}
    req = AWSRequest(method="PUT", url=url, headers=headers)
    SigV4Auth(creds, "s3", REGION).add_auth(req)
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    out = bytearray()
    if not signed:
        for c in chunks:
            out += f"{len(c):x}\r\n".encode() + c + (b"\r\n" if c else b"")
        out += f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode()
    else:
        seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
        amz_date = req.headers["X-Amz-Date"]
        scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
        k = ("AWS4" + creds.secret_key).encode()
        for part in (amz_date[:8], REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        empty = hashlib.sha256(b"").hexdigest()
        prev = seed
        for c in chunks:
            sts = (f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{empty}\n"
                   f"{hashlib.sha256(c).hexdigest()}")
            prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
            out += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + (b"\r\n" if c else b"")
        trailer = f"x-amz-checksum-crc32:{crc}\n"
        sts = (f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev}\n"
               f"{hashlib.sha256(trailer.encode()).hexdigest()}")
        tsig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        out += f"x-amz-checksum-crc32:{crc}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    hdrs = dict(req.headers)
    hdrs["content-length"] = str(len(out))
    return httpx.put(req.url, headers=hdrs, content=bytes(out), timeout=60)


@pytest.mark.parametrize("signed", [False, True])
def test_aws_chunked_trailer_checksum(s3, bucket, signed):
    data = b"trailing checksum " * 5000
    r = _trailer_put(s3, bucket, "tr", data, signed=signed)
    assert r.status_code == 200, r.text
    assert r.headers["x-amz-checksum-crc32"]
    h = s3.head_object(Bucket=bucket, Key="tr", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == r.headers["x-amz-checksum-crc32"]
    assert s3.get_object(Bucket=bucket, Key="tr")["Body"].read() == data


@pytest.mark.parametrize("signed", [False, True])
def test_aws_chunked_wrong_trailer_checksum_stores_nothing(s3, bucket, signed):
    r = _trailer_put(s3, bucket, "bad", b"x" * 50000, signed=signed, crc="AAAAAA==")
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_aws_chunked_upload_part(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mpt", ChecksumAlgorithm="CRC32")["UploadId"]
    data = b"part data " * 1000
    r = _trailer_put(s3, bucket, "mpt", data, signed=True,
                     query=f"partNumber=1&uploadId={uid}")
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    crc = r.headers["x-amz-checksum-crc32"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mpt", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag, "ChecksumCRC32": crc}]})
    assert done["ChecksumCRC32"].endswith("-1")
    assert s3.get_object(Bucket=bucket, Key="mpt")["Body"].read() == data
