"""Unit tests of the S3 layer's pure parts: routing, addressing, XML, conditions, CORS."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kosha.errors import (Invalid, KoshaError, MethodNotAllowed, NotImplementedYet, NotModified,
                          PreconditionFailed, RangeNotSatisfiable)
from kosha.s3 import router as r
from kosha.s3 import xml
from kosha.clock import http_date
from kosha.ranges import parse_range
from kosha.s3.conditions import etag_matches, evaluate_copy_source, evaluate_read, parse_copy_range
from kosha.s3.copy import parse_copy_source
from kosha.s3.cors import _wild_match, parse_cors
from kosha.s3.lifecycle import document, parse_rules
from kosha.s3.request import parse_query
from kosha.services.models import ObjectVersion


def route(method, bucket, key, query="", headers=None):
    return r.route(method, bucket, key, parse_query(query), headers or {})


@pytest.mark.parametrize("method,bucket,key,query,headers,expected", [
    ("GET", None, None, "", {}, r.LIST_BUCKETS),
    ("GET", "b", None, "", {}, r.LIST_OBJECTS),
    ("GET", "b", None, "list-type=2&prefix=a", {}, r.LIST_OBJECTS_V2),
    ("GET", "b", None, "versions", {}, r.LIST_OBJECT_VERSIONS),
    ("GET", "b", None, "uploads", {}, r.LIST_MULTIPART_UPLOADS),
    ("GET", "b", None, "location", {}, r.GET_BUCKET_LOCATION),
    ("GET", "b", None, "prefix=x&x-id=ListObjects", {}, r.LIST_OBJECTS),
    ("PUT", "b", None, "", {}, r.CREATE_BUCKET),
    ("PUT", "b", None, "versioning", {}, r.PUT_BUCKET_VERSIONING),
    ("DELETE", "b", None, "cors", {}, r.DELETE_BUCKET_CORS),
    ("POST", "b", None, "delete", {}, r.DELETE_OBJECTS),
    ("POST", "b", None, "", {"content-type": "multipart/form-data; boundary=x"}, r.POST_OBJECT),
    ("HEAD", "b", None, "", {}, r.HEAD_BUCKET),
    ("GET", "b", "k", "", {}, r.GET_OBJECT),
    ("GET", "b", "k", "x-id=GetObject&versionId=3", {}, r.GET_OBJECT),
    ("GET", "b", "k", "uploadId=u", {}, r.LIST_PARTS),
    ("PUT", "b", "k", "", {}, r.PUT_OBJECT),
    ("PUT", "b", "k", "", {"x-amz-copy-source": "/a/b"}, r.COPY_OBJECT),
    ("PUT", "b", "k", "partNumber=1&uploadId=u", {}, r.UPLOAD_PART),
    ("PUT", "b", "k", "partNumber=1&uploadId=u", {"x-amz-copy-source": "a/b"}, r.UPLOAD_PART_COPY),
    ("POST", "b", "k", "uploads", {}, r.CREATE_MULTIPART),
    ("POST", "b", "k", "uploadId=u", {}, r.COMPLETE_MULTIPART),
    ("DELETE", "b", "k", "uploadId=u", {}, r.ABORT_MULTIPART),
    ("DELETE", "b", "k", "versionId=v", {}, r.DELETE_OBJECT),
    ("OPTIONS", "b", "k", "", {}, r.OPTIONS),
])
def test_routes(method, bucket, key, query, headers, expected):
    assert route(method, bucket, key, query, headers) is expected


@pytest.mark.parametrize("method,bucket,key,query,exc", [
    ("PUT", None, None, "", MethodNotAllowed),
    ("POST", "b", "k", "", MethodNotAllowed),
    ("PATCH", "b", "k", "", MethodNotAllowed),
    ("GET", "b", None, "website", NotImplementedYet),
    ("GET", "b", "k", "torrent", NotImplementedYet),
    ("PUT", "b", "k", "retention", NotImplementedYet),
    ("PUT", "b", "k", "partNumber=1", Invalid),
])
def test_route_errors(method, bucket, key, query, exc):
    with pytest.raises(exc):
        route(method, bucket, key, query)


def test_path_style_addressing():
    a = r.Addressing(None)
    assert a.resolve("h", "/") == (None, None)
    assert a.resolve("h", "/b") == ("b", None)
    assert a.resolve("h", "/b/") == ("b", None)
    assert a.resolve("h", "/b/k") == ("b", "k")
    assert a.resolve("h", "/b/a//b/../c/") == ("b", "a//b/../c/")
    assert a.resolve("h", "/b/%E4%B8%AD%20x%2Fy") == ("b", "中 x/y")
    with pytest.raises(Invalid):
        a.resolve("h", "/b/%FF")


def test_virtual_host_addressing():
    a = r.Addressing("s3.example.com")
    assert a.resolve("bkt.s3.example.com:9000", "/k/x") == ("bkt", "k/x")
    assert a.resolve("bkt.s3.example.com", "/") == ("bkt", None)
    assert a.resolve("s3.example.com:9000", "/bkt/k") == ("bkt", "k")
    assert a.resolve("127.0.0.1:9000", "/bkt/k") == ("bkt", "k")
    assert a.resolve("a.b.s3.example.com", "/k") == ("a.b", "k")
    assert a.resolve("[::1]:9000", "/bkt") == ("bkt", None)


def test_query_parsing():
    assert parse_query("a=1&b&c=%2F&d=x+y&a=2") == {"a": "1", "b": "", "c": "/", "d": "x y"}


# ------------------------------------------------------------------------------ xml

def test_xml_escape_and_build():
    assert xml.el("K", "a<b&c>\"'\r") == "<K>a&lt;b&amp;c&gt;&quot;&apos;&#13;</K>"
    assert xml.el("T", True) == "<T>true</T>"
    assert xml.opt("X", None) == ""
    body = xml.doc("R", xml.el("A", 1), [xml.el("B", 2)])
    root = xml.parse(body, root="R")
    assert xml.text(root, "A") == "1" and xml.int_text(root, "B") == 2


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20)))
def test_xml_roundtrip_any_text(s):
    root = xml.parse(xml.doc("R", xml.el("K", s)))
    assert xml.text(root, "K") == s


@pytest.mark.parametrize("body", [
    b"", b"   ", b"<a>", b"not xml", b"<a></b>",
    b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
])
def test_xml_refuses(body):
    with pytest.raises(Invalid) as e:
        xml.parse(body)
    assert e.value.s3_code == "MalformedXML"


def test_xml_wrong_root():
    with pytest.raises(Invalid):
        xml.parse(b"<A/>", root="B")


# ------------------------------------------------------------------------------ conditions

def version(etag="abc", modified=1_700_000_000.0) -> ObjectVersion:
    return ObjectVersion(bucket="b", key="k", version_id="null", is_latest=True,
                         is_delete_marker=False, size=10, etag=etag, content_type=None,
                         storage_class="STANDARD", last_modified=modified)


def test_etag_matching():
    assert etag_matches("abc", '"abc"')
    assert etag_matches("abc", 'W/"abc"')
    assert etag_matches("abc", '"x", "abc"')
    assert etag_matches("abc", "*")
    assert not etag_matches("abc", '"abd"')


def test_read_conditions():
    v = version()
    before, after = http_date(v.last_modified - 10), http_date(v.last_modified + 10)
    evaluate_read({}, v)
    evaluate_read({"if-match": '"abc"'}, v)
    with pytest.raises(PreconditionFailed):
        evaluate_read({"if-match": '"zzz"'}, v)
    with pytest.raises(NotModified):
        evaluate_read({"if-none-match": '"abc"'}, v)
    evaluate_read({"if-none-match": '"zzz"'}, v)
    with pytest.raises(NotModified):
        evaluate_read({"if-modified-since": after}, v)
    evaluate_read({"if-modified-since": before}, v)
    with pytest.raises(PreconditionFailed):
        evaluate_read({"if-unmodified-since": before}, v)
    evaluate_read({"if-unmodified-since": after}, v)
    evaluate_read({"if-match": '"abc"', "if-unmodified-since": before}, v)     # S3: 200
    with pytest.raises(NotModified):   # S3: If-None-Match false + If-Modified-Since true → 304
        evaluate_read({"if-none-match": '"abc"', "if-modified-since": before}, v)
    evaluate_read({"if-none-match": '"zzz"', "if-modified-since": after}, v)  # RFC 7232 §6
    evaluate_read({"if-modified-since": "garbage"}, v)                          # ignored


def test_copy_source_conditions_are_all_412():
    v = version()
    for headers in ({"x-amz-copy-source-if-match": '"no"'},
                    {"x-amz-copy-source-if-none-match": '"abc"'},
                    {"x-amz-copy-source-if-modified-since": http_date(time.time() + 86400)},
                    {"x-amz-copy-source-if-unmodified-since": http_date(1_000_000_000)}):
        with pytest.raises(PreconditionFailed):
            evaluate_copy_source(headers, v)


@pytest.mark.parametrize("header,size,expected", [
    (None, 10, None), ("bytes=0-4", 10, (0, 5)), ("bytes=5-", 10, (5, 10)),
    ("bytes=-3", 10, (7, 10)), ("bytes=-30", 10, (0, 10)), ("bytes=8-100", 10, (8, 10)),
    ("bytes=0-1,3-4", 10, None), ("items=0-1", 10, None), ("bytes=5-2", 10, None),
    ("bytes=abc", 10, None),
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header,size", [("bytes=10-20", 10), ("bytes=0-0", 0), ("bytes=-0", 5)])
def test_parse_range_unsatisfiable(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


def test_parse_copy_range():
    assert parse_copy_range("bytes=0-9", 10) == (0, 9)
    with pytest.raises(RangeNotSatisfiable):
        parse_copy_range("bytes=0-10", 10)
    with pytest.raises(Invalid):
        parse_copy_range("bytes=5-", 10)


def test_parse_copy_source():
    assert parse_copy_source("/b/k%20x") == ("b", "k x", None)
    assert parse_copy_source("b/d/k?versionId=v1") == ("b", "d/k", "v1")
    with pytest.raises(Invalid):
        parse_copy_source("justbucket")


# ------------------------------------------------------------------------------ cors

def test_wildcards():
    assert _wild_match("*", "anything")
    assert _wild_match("https://*.example.com", "https://a.example.com")
    assert not _wild_match("https://*.example.com", "https://example.org")
    assert _wild_match("start*end", "startend")
    assert not _wild_match("ab*ba", "aba")


def test_parse_cors_rejects_bad_methods():
    body = (b"<CORSConfiguration><CORSRule><AllowedMethod>PATCH</AllowedMethod>"
            b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>")
    with pytest.raises(KoshaError):
        parse_cors(body)


# ------------------------------------------------------------------------------ lifecycle

def test_lifecycle_roundtrip():
    body = (b"<LifecycleConfiguration><Rule><ID>a</ID><Filter><Prefix>x/</Prefix></Filter>"
            b"<Status>Enabled</Status><Expiration><Days>3</Days></Expiration>"
            b"<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
            b"</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>")
    rules = parse_rules(body)
    assert rules[0]["name"] == "a" and rules[0]["prefix"] == "x/"
    assert rules[0]["expiration_days"] == 3 and rules[0]["delete_incomplete_mpu"] == 2
    assert parse_rules(document(rules)) == rules


def test_lifecycle_date_expiration_parses_and_reads_back():
    body = (b"<LifecycleConfiguration><Rule><ID>d</ID><Filter><Prefix>x/</Prefix></Filter>"
            b"<Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>"
            b"</Rule></LifecycleConfiguration>")
    rules = parse_rules(body)
    assert rules[0]["expiration_date"] == 1893456000.0 and rules[0]["expiration_days"] is None
    assert parse_rules(document(rules)) == rules


@pytest.mark.parametrize("rule,code", [
    (b"<Rule><ID>a</ID><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>",
     "MalformedXML"),
    (b"<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>",
     "InvalidArgument"),
    (b"<Rule><ID>a</ID><Status>Enabled</Status><Expiration><Date>2030-01-01T12:00:00Z</Date>"
     b"</Expiration></Rule>", "InvalidArgument"),
    (b"<Rule><ID>a</ID><Status>Enabled</Status><Filter><Prefix/></Filter><Transition><Days>1</Days>"
     b"<StorageClass>COLD</StorageClass></Transition></Rule>", "InvalidStorageClass"),
])
def test_lifecycle_invalid(rule, code):
    with pytest.raises(KoshaError) as e:
        parse_rules(b"<LifecycleConfiguration>" + rule + b"</LifecycleConfiguration>")
    assert e.value.s3_code == code
