"""Signature V2 verification (`kosha.s3.signature.v2`) against botocore's HmacV1 signers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from kosha.errors import Forbidden
from kosha.s3.signature.v2 import parse_v2_auth

from .helpers import ACCESS, SECRET

CREDS = Credentials(ACCESS, SECRET)


def wire(request: AWSRequest) -> tuple[str, str, str, dict[str, list[str]]]:
    parts = urlsplit(request.url)
    headers = {k.lower(): [v] for k, v in request.headers.items()}
    return request.method, parts.path, parts.query, headers


def header_signed(method: str, url: str, headers: dict[str, str] | None = None,
                  auth_path: str | None = None) -> AWSRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {})
    if auth_path is not None:
        request.auth_path = auth_path
    HmacV1Auth(CREDS).add_auth(request)
    return request


def test_virtual_hosted_request_signs_the_bucket_into_the_resource() -> None:
    request = header_signed("GET", "http://photos.s3.example.com/a/b.txt?acl",
                            auth_path="/photos/a/b.txt")
    method, path, query, headers = wire(request)
    auth = parse_v2_auth(method, path, query, headers, "photos")
    assert auth is not None and not auth.presigned
    auth.verify(SECRET)


def test_path_style_bucket_request_signed_with_trailing_slash() -> None:
    request = header_signed("GET", "http://127.0.0.1:9000/photos", auth_path="/photos/")
    auth = parse_v2_auth(*wire(request), "photos")
    assert auth is not None
    auth.verify(SECRET)


def test_wrong_bucket_in_resource_does_not_verify() -> None:
    request = header_signed("GET", "http://127.0.0.1:9000/photos/k")
    method, _path, query, headers = wire(request)
    auth = parse_v2_auth(method, "/other/k", query, headers, "other")
    assert auth is not None
    with pytest.raises(Forbidden) as e:
        auth.verify(SECRET)
    assert e.value.s3_code == "SignatureDoesNotMatch"


def test_query_url_with_signed_content_type_from_the_query() -> None:
    request = AWSRequest(method="PUT", url="http://127.0.0.1:9000/b/k",
                         headers={"Content-Type": "image/png", "x-amz-acl": "public-read"})
    HmacV1QueryAuth(CREDS, expires=60).add_auth(request)
    method, path, query, _headers = wire(request)
    assert "x-amz-acl=public-read" in query and "content-type=image%2Fpng" in query
    auth = parse_v2_auth(method, path, query, {}, "b")
    assert auth is not None and auth.presigned
    auth.verify(SECRET)


def test_expired_query_url_is_refused() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:9000/b/k")
    HmacV1QueryAuth(CREDS, expires=60).add_auth(request)
    auth = parse_v2_auth(*wire(request), "b")
    assert auth is not None
    with pytest.raises(Forbidden) as e:
        auth.verify(SECRET, datetime.now(timezone.utc) + timedelta(seconds=120))
    assert e.value.message == "Request has expired"


def test_v4_requests_are_not_v2() -> None:
    headers = {"authorization": ["AWS4-HMAC-SHA256 Credential=x/20240101/r/s3/aws4_request, "
                                 "SignedHeaders=host, Signature=" + "0" * 64]}
    assert parse_v2_auth("GET", "/b", "", headers, "b") is None
    assert parse_v2_auth("GET", "/b", "X-Amz-Expires=60&X-Amz-Signature=00", {}, "b") is None
    assert parse_v2_auth("GET", "/b", "", {}, "b") is None


@settings(max_examples=60, deadline=None)
@given(key=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                   min_size=1, max_size=40),
       sub=st.sampled_from(["", "acl", "tagging", "uploads", "versionId=3/L4kqtJl"]),
       meta=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20))
def test_botocore_header_signatures_verify(key: str, sub: str, meta: str) -> None:
    from urllib.parse import quote
    url = "http://127.0.0.1:9000/bkt/" + quote(key.encode(), safe="/~") + ("?" + sub if sub else "")
    request = header_signed("PUT", url, {"x-amz-meta-m": meta, "Content-Type": "text/plain"})
    auth = parse_v2_auth(*wire(request), "bkt")
    assert auth is not None
    auth.verify(SECRET)
