"""Presigned URLs: botocore's URLs verify, expiry is enforced, presign_url equals botocore's."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.config import Config

from kosha.errors import Forbidden, Invalid
from kosha.s3.signature import parse_request_auth, presign_url
from kosha.s3.signature.v2 import parse_v2_auth
from kosha.s3.signature.v4 import UNSIGNED_PAYLOAD

from .helpers import (
    ACCESS, ENDPOINT, FIXED, REGION, SECRET, SIGNERS, Wire, frozen_time, object_url, presign,
    to_wire,
)


def verify(w: Wire, now=FIXED, secret=SECRET):
    auth = parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert auth is not None and auth.presigned
    return auth.verify(secret, now)


def with_query(w: Wire, query: bytes) -> Wire:
    return Wire(w.method, w.raw_path, query, w.headers)


@pytest.mark.parametrize("signer", SIGNERS)
@pytest.mark.parametrize("key", ["k", "a b/c+d%e~f/../g//h", "ünï/日本", "x?y#z&w=v"])
def test_presigned_verifies(signer, key):
    w = presign("GET", object_url("bucket", key, "response-content-type=text%2Fplain"),
                expires=600, signer=signer)
    s = verify(w)
    assert s.presigned and s.content_sha256 == UNSIGNED_PAYLOAD
    assert s.expires_at == FIXED + timedelta(seconds=600)
    assert s.access_key == ACCESS


def test_boto3_generate_presigned_url_verifies():
    with frozen_time():
        s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS,
                          aws_secret_access_key=SECRET, region_name=REGION,
                          config=Config(s3={"addressing_style": "path"},
                                        signature_version="s3v4"))
        urls = [s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "a b+c"}),
                s3.generate_presigned_url("put_object", Params={"Bucket": "b", "Key": "k"},
                                          HttpMethod="PUT"),
                s3.generate_presigned_url("list_objects_v2", Params={"Bucket": "b",
                                                                     "Prefix": "p/q"})]
    for url, method in zip(urls, ["GET", "PUT", "GET"]):
        verify(to_wire(method, url, {}, b""))


def test_expired():
    w = presign("GET", object_url("b", "k"), expires=60)
    verify(w, now=FIXED + timedelta(seconds=60))
    with pytest.raises(Forbidden) as e:
        verify(w, now=FIXED + timedelta(seconds=61))
    assert e.value.s3_code == "AccessDenied" and e.value.message == "Request has expired"


def test_not_yet_valid():
    w = presign("GET", object_url("b", "k"), expires=60)
    verify(w, now=FIXED - timedelta(minutes=14))
    with pytest.raises(Forbidden) as e:
        verify(w, now=FIXED - timedelta(minutes=16))
    assert e.value.s3_code == "AccessDenied"


def test_expires_limit():
    w = presign("GET", object_url("b", "k"), expires=604800)
    verify(w)
    w = presign("GET", object_url("b", "k"), expires=604801)
    with pytest.raises(Invalid) as e:
        parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert e.value.s3_code == "AuthorizationQueryParametersError"


@pytest.mark.parametrize("old,new", [
    (b"X-Amz-Expires=600", b"X-Amz-Expires=6000"),
    (b"response-content-type=text%2Fplain", b"response-content-type=text%2Fhtml"),
])
def test_tampered_query_fails(old, new):
    w = presign("GET", object_url("b", "k", "response-content-type=text%2Fplain"), expires=600)
    assert old in w.raw_query
    with pytest.raises(Forbidden) as e:
        verify(with_query(w, w.raw_query.replace(old, new)))
    assert e.value.s3_code == "SignatureDoesNotMatch"


def test_added_query_param_and_wrong_secret_fail():
    w = presign("GET", object_url("b", "k"))
    with pytest.raises(Forbidden):
        verify(with_query(w, w.raw_query + b"&versionId=1"))
    with pytest.raises(Forbidden):
        verify(w, secret="wrong")
    with pytest.raises(Forbidden):
        verify(Wire("PUT", w.raw_path, w.raw_query, w.headers))


def test_missing_params():
    w = presign("GET", object_url("b", "k"))
    q = b"&".join(p for p in w.raw_query.split(b"&") if not p.startswith(b"X-Amz-Date"))
    with pytest.raises(Invalid) as e:
        parse_request_auth(w.method, w.raw_path, q, w.headers)
    assert e.value.s3_code == "AuthorizationQueryParametersError"


def test_security_token_in_query():
    w = presign("GET", object_url("b", "k"), token="FQoG+/tok==")
    s = verify(w)
    assert s.security_token == "FQoG+/tok=="


def test_unsigned_amz_header_with_presigned_url_is_refused():
    w = presign("PUT", object_url("b", "k"))
    w.headers.append((b"x-amz-acl", b"public-read"))
    with pytest.raises(Forbidden) as e:
        verify(w)
    assert e.value.s3_code == "AccessDenied"


def _pure_botocore_url(method, key, expires, extra=None, token=None):
    q = "&".join(f"{k}={v}" for k, v in (extra or {}).items())
    w = presign(method, object_url("bucket", key, q), expires=expires, token=token)
    return f"{ENDPOINT}{w.raw_path.decode()}?{w.raw_query.decode()}"


@pytest.mark.parametrize("key", ["k", "a b/c+d%e~f/../g//h", "ünï/日本", "x?y#z&w=v"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_presign_url_identical_to_botocore(key, method):
    ours = presign_url(method, ENDPOINT, "bucket", key, ACCESS, SECRET, REGION, 900, FIXED)
    assert ours == _pure_botocore_url(method, key, 900)
    verify(to_wire(method, ours, {}, b""))


def test_presign_url_extra_query_and_token():
    ours = presign_url("GET", ENDPOINT, "bucket", "k", ACCESS, SECRET, REGION, 60, FIXED,
                       {"response-content-disposition": "attachment; filename=\"a b.txt\""},
                       security_token="tok+/=")
    theirs = _pure_botocore_url("GET", "k", 60, {"response-content-disposition":
                                                 "attachment%3B%20filename%3D%22a%20b.txt%22"},
                                token="tok+/=")
    assert ours == theirs
    assert verify(to_wire("GET", ours, {}, b"")).security_token == "tok+/="


@pytest.mark.skipif("crt" not in SIGNERS, reason="awscrt not installed")
def test_presign_url_signature_equals_crt():
    ours = presign_url("GET", ENDPOINT, "bucket", "a b/ü", ACCESS, SECRET, REGION, 3600, FIXED)
    w = presign("GET", object_url("bucket", "a b/ü"), expires=3600, signer="crt")
    crt = dict(parse_qsl(w.raw_query.decode()))
    assert dict(parse_qsl(urlsplit(ours).query))["X-Amz-Signature"] == crt["X-Amz-Signature"]


def test_presign_url_default_port_and_bucket_only():
    url = presign_url("GET", "https://s3.example.com:443", "b", None, ACCESS, SECRET, REGION,
                      60, FIXED, {"list-type": "2"})
    assert url.startswith("https://s3.example.com:443/b?list-type=2&X-Amz-Algorithm=")
    w = to_wire("GET", url, {"host": "s3.example.com"}, b"")
    verify(w)


def test_boto3_default_presign_with_custom_endpoint_is_sigv2():
    # boto3 + endpoint_url without signature_version="s3v4" presigns with SigV2: not V4's to
    # verify (parse_request_auth refuses it), V2's (kosha.s3.signature.v2; tests/s3/test_sigv2.py).
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS,
                      aws_secret_access_key=SECRET, region_name=REGION)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    w = to_wire("GET", url, {}, b"")
    with pytest.raises(Invalid) as e:
        parse_request_auth(w.method, w.raw_path, w.raw_query, w.headers)
    assert e.value.s3_code == "InvalidRequest"
    auth = parse_v2_auth(w.method, w.raw_path.decode() if isinstance(w.raw_path, bytes)
                         else w.raw_path, w.raw_query.decode() if isinstance(w.raw_query, bytes)
                         else w.raw_query, w.headers, "b")
    assert auth is not None and auth.presigned and auth.access_key == ACCESS
    assert auth.verify(SECRET).presigned