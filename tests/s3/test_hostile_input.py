"""S3 under hostile input: every malformed request is a 4xx S3 error document, never a 5xx."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from botocore.handlers import set_list_objects_encoding_type_url

from s3_helpers import REGION, raw_request


def _signed(s3: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"",
            secret: str | None = None, replace: dict[str, bytes] | None = None,
            raw: dict[str, bytes] | None = None) -> httpx.Response:
    """A SigV4-signed request; `raw` headers are signed and sent as those exact bytes (which
    need not be UTF-8); `replace` swaps in header bytes after signing (a wrong signature)."""
    import hashlib

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    placeholders = {f"raw-value-{i}": v for i, v in enumerate((raw or {}).values())}
    headers = {**headers, **dict(zip((raw or {}), placeholders))}

    class RawSigner(S3SigV4Auth):
        def string_to_sign(self, request: Any, canonical_request: str) -> str:
            for name, value in placeholders.items():
                canonical_request = canonical_request.replace(
                    name, value.decode("utf-8", "surrogateescape"))
            digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
            return "\n".join(["AWS4-HMAC-SHA256", request.context["timestamp"],
                              self.credential_scope(request), digest])

    url = s3.meta.endpoint_url + path
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    creds = s3._request_signer._credentials
    RawSigner(Credentials(creds.access_key, secret or creds.secret_key), "s3", REGION).add_auth(request)
    sent = {k.lower(): v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
            for k, v in request.headers.items()}
    sent.update({k: placeholders[v.decode()] for k, v in sent.items() if v.decode() in placeholders})
    sent.update(replace or {})
    return httpx.request(method, request.url, headers=list(sent.items()), content=body or None)


def _error_code(response: httpx.Response, status: int) -> str:
    """The <Code> of a well-formed S3 error document answered with `status`."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:400]}"
    return str(ET.fromstring(response.content).findtext("Code"))


@pytest.fixture
def plain_lister(s3_factory: Any, s3: Any) -> Any:
    """A boto3 client that lists WITHOUT encoding-type=url, as older SDKs and tools do."""
    creds = s3._request_signer._credentials
    client = s3_factory(creds.access_key, creds.secret_key)
    for op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        client.meta.events.unregister(f"before-parameter-build.s3.{op}", set_list_objects_encoding_type_url)
    return client


# -- ranges -----------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["bytes=²-", "bytes=0-³", "bytes=-¹", "bytes=¹²-"])
def test_range_with_non_ascii_digits_is_ignored_on_a_presigned_get(s3: Any, bucket: str,
                                                                    header: str) -> None:
    s3.put_object(Bucket=bucket, Key="r.bin", Body=b"0123456789")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "r.bin"})
    response = httpx.get(url, headers={"Range": header.encode("latin-1")})
    assert response.status_code == 200 and response.content == b"0123456789"


@pytest.mark.parametrize("header", ["bytes=²-3", "bytes=0-³", "bytes=¹-²"])
def test_copy_source_range_with_non_ascii_digits_is_invalid_argument(s3: Any, bucket: str,
                                                                      header: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    response = _signed(s3, "PUT", f"/{bucket}/dst?partNumber=1&uploadId={upload_id}",
                       {"x-amz-copy-source": f"/{bucket}/src"},
                       raw={"x-amz-copy-source-range": header.encode("latin-1")})
    assert _error_code(response, 400) == "InvalidArgument"


# -- signatures and the error renderer ---------------------------------------------------------

@pytest.mark.parametrize("value", [b"\xe9t\xe9", b"\xff\xfe", b"\x80", "\u00b2".encode()])
def test_wrong_signature_with_a_non_ascii_signed_header_is_an_xml_403(s3: Any, bucket: str,
                                                                       value: bytes) -> None:
    response = _signed(s3, "PUT", f"/{bucket}/k", {"x-amz-meta-note": "x"}, b"data",
                       secret="wrong-secret", replace={"x-amz-meta-note": value})
    assert _error_code(response, 403) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("value", [b"\xe9t\xe9", b"\xff\xfe", b"\x80"])
def test_non_ascii_signed_header_changed_after_signing_is_an_xml_403(s3: Any, bucket: str,
                                                                     value: bytes) -> None:
    response = _signed(s3, "PUT", f"/{bucket}/k", {"x-amz-meta-note": "x"}, b"data",
                       replace={"x-amz-meta-note": value})
    assert _error_code(response, 403) == "SignatureDoesNotMatch"


def test_malformed_authorization_headers_are_4xx(s3: Any, bucket: str) -> None:
    url = f"{s3.meta.endpoint_url}/{bucket}"
    for auth in ["AWS4-HMAC-SHA256 Credential=\xb2/\xb2/\xb2/s3/aws4_request, SignedHeaders=host, Signature=00",
                 "AWS4-HMAC-SHA256 " + "Credential=" * 5000, "AWS4-HMAC-SHA256 ,,,,=,=,=",
                 "AWS4-HMAC-SHA256 Credential=a/20260101/r/s3/aws4_request, SignedHeaders=\xff, Signature=z"]:
        response = httpx.get(url, headers={"Authorization": auth.encode("latin-1"),
                                           "x-amz-date": "20260101T000000Z"})
        assert 400 <= response.status_code < 500, (auth[:60], response.status_code, response.text)
        ET.fromstring(response.content)


# -- keys XML cannot carry ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["nul\x00key", "bell\x07", "esc\x1b[0m", "\ufffe"])
def test_put_of_a_key_xml_cannot_carry_is_400(s3: Any, bucket: str, key: str) -> None:
    from urllib.parse import quote
    response = raw_request(s3, "PUT", f"/{bucket}/{quote(key.encode())}", body=b"x")
    assert _error_code(response, 400) == "InvalidArgument"
    response = raw_request(s3, "POST", f"/{bucket}/{quote(key.encode())}?uploads")
    assert _error_code(response, 400) == "InvalidArgument"


def test_listings_without_encoding_type_are_well_formed_xml(s3: Any, plain_lister: Any,
                                                           bucket: str) -> None:
    key = "tab\there\nnewline\rreturn <&>"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.create_multipart_upload(Bucket=bucket, Key=key)
    assert [o["Key"] for o in plain_lister.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in plain_lister.list_objects(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in plain_lister.list_object_versions(Bucket=bucket)["Versions"]] == [key]
    assert [u["Key"] for u in plain_lister.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [key]


@pytest.mark.parametrize("query", ["list-type=2&prefix=%00", "prefix=%01&delimiter=%02",
                                   "versions&prefix=%1f", "uploads&prefix=%00&key-marker=%0b",
                                   "list-type=2&start-after=%ef%bf%be"])
def test_control_characters_echoed_from_the_query_stay_well_formed(s3: Any, bucket: str,
                                                                   query: str) -> None:
    response = raw_request(s3, "GET", f"/{bucket}?{query}")
    assert response.status_code == 200, response.text
    ET.fromstring(response.content)


# -- XML bodies -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"<Delete>" + b"<Object>" * 50000 + b"</Object>" * 50000 + b"</Delete>",
    b"<Delete><Object><Key>&#x0;</Key></Object></Delete>",
    b"<Delete><Object><Key>&#xD800;</Key></Object></Delete>",
    b"<Delete><Object><Key>\xff\xfe</Key></Object></Delete>",
    b'<?xml version="1.0" encoding="x-unknown"?><Delete/>',
    b"<Delete><Object><Key>a</Key></Object></Delete><Delete/>",
    b"<Delete><Object><Key>a</Key><VersionId>\xed\xa0\x80</VersionId></Object></Delete>",
    b"\x00" * 100,
])
def test_hostile_delete_objects_bodies_are_400(s3: Any, bucket: str, body: bytes) -> None:
    import base64
    import hashlib
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = raw_request(s3, "POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
    assert 400 <= response.status_code < 500, response.text
    ET.fromstring(response.content)


def test_deeply_nested_lifecycle_configuration_is_malformed_xml(s3: Any, bucket: str) -> None:
    body = b"<LifecycleConfiguration>" + b"<Rule>" * 20000 + b"</Rule>" * 20000 + b"</LifecycleConfiguration>"
    import base64
    import hashlib
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = raw_request(s3, "PUT", f"/{bucket}?lifecycle", body=body, headers={"Content-MD5": md5})
    assert 400 <= response.status_code < 500, response.text


# -- multipart/form-data (POST Object) and aws-chunked -------------------------------------------

@pytest.mark.parametrize("length", [71, 300, 5000])
def test_post_object_with_an_overlong_boundary_is_400(s3: Any, bucket: str, length: int) -> None:
    boundary = "b" * length
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
            f"x\r\n--{boundary}--\r\n").encode()
    response = httpx.post(f"{s3.meta.endpoint_url}/{bucket}", content=body,
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= response.status_code < 500, response.text
    ET.fromstring(response.content)


@pytest.mark.parametrize("body", [
    b"\xb2\r\nabc\r\n0\r\n\r\n",                       # non-ASCII chunk size
    b"fffffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",   # absurd size
    b"3;chunk-signature=\xff\r\nabc\r\n0\r\n\r\n",
    b"3\r\nabc" + b"\r\n" * 3,
    b"-1\r\nabc\r\n0\r\n\r\n",
    b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:\xff\xff\r\n\r\n",
    b"",
])
def test_malformed_aws_chunked_bodies_are_4xx(s3: Any, bucket: str, body: bytes) -> None:
    headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "3",
               "x-amz-trailer": "x-amz-checksum-crc32"}
    response = raw_request(s3, "PUT", f"/{bucket}/chunked", body=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    ET.fromstring(response.content)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="chunked")


# -- every operation -------------------------------------------------------------------------------

OPERATIONS = [
    ("GET", "", "list-type=2"), ("GET", "", ""), ("GET", "", "versions"), ("GET", "", "uploads"),
    ("GET", "", "location"), ("GET", "", "versioning"), ("GET", "", "tagging"), ("GET", "", "cors"),
    ("GET", "", "lifecycle"), ("GET", "", "acl"), ("HEAD", "", ""), ("PUT", "", "tagging"),
    ("PUT", "", "cors"), ("PUT", "", "lifecycle"), ("PUT", "", "versioning"), ("PUT", "", "acl"),
    ("POST", "", "delete"), ("GET", "k", ""), ("HEAD", "k", ""), ("PUT", "k", ""),
    ("PUT", "copy", ""), ("POST", "k", "uploads"), ("PUT", "k", "partNumber=1&uploadId=x"),
    ("POST", "k", "uploadId=x"), ("GET", "k", "uploadId=x"), ("DELETE", "k", "uploadId=x"),
    ("GET", "k", "tagging"), ("PUT", "k", "tagging"), ("GET", "k", "acl"), ("PUT", "k", "acl"),
    ("DELETE", "k", ""), ("POST", "", ""),
]
HOSTILE_HEADERS = {
    "range": b"bytes=\xb2-", "if-match": b"\xff\xb2", "if-none-match": b"\x80",
    "if-modified-since": b"\xb2\xb3 \xff", "if-unmodified-since": b"Mon, \xb2 Jan",
    "content-md5": b"\xb2\xff==", "x-amz-copy-source": b"/\xff%zz/\x80?versionId=\xb2",
    "x-amz-copy-source-range": b"bytes=\xb2-\xb3", "x-amz-tagging": b"\xff=%zz&&==&\xb2",
    "x-amz-meta-note": b"\xff\x80", "x-amz-checksum-crc32": b"\xb2\xff",
    "x-amz-checksum-algorithm": b"\xff", "x-amz-sdk-checksum-algorithm": b"CRC\xb2",
    "x-amz-acl": b"\xff", "x-amz-storage-class": b"\xb2", "x-amz-metadata-directive": b"\xff",
    "x-amz-tagging-directive": b"\x80", "x-amz-decoded-content-length": b"\xb2",
    "x-amz-expected-bucket-owner": b"\xff", "x-amz-copy-source-if-match": b"\xb2",
    "x-amz-copy-source-if-modified-since": b"\xff", "content-type": b"multipart/form-data; boundary="
    + b"b" * 300, "x-amz-object-lock-mode": b"\xff", "content-language": b"\xb2",
}


@pytest.mark.parametrize("header", sorted(HOSTILE_HEADERS))
def test_no_operation_answers_5xx_to_a_hostile_signed_header(s3: Any, bucket: str, header: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    failures = []
    for method, key, query in OPERATIONS:
        headers = {"x-amz-copy-source": f"/{bucket}/k"} if key == "copy" else {}
        path = f"/{bucket}/{key}" + (f"?{query}" if query else "")
        body = b"\xff<\x00>" if method in ("PUT", "POST") else b""
        response = _signed(s3, method, path, headers, body, raw={header: HOSTILE_HEADERS[header]})
        if response.status_code >= 500 or (response.status_code >= 400 and response.content
                                          and not _well_formed(response.content)):
            failures.append(f"{method} {path}: {response.status_code} {response.text[:150]}")
    assert not failures, "\n".join(failures)


def _well_formed(body: bytes) -> bool:
    try:
        ET.fromstring(body)
    except ET.ParseError:
        return False
    return True
