"""A header value holding CR/LF never splits a response (kosha/response_head.py): the head is
checked once for all its headers before anything is written, and such an answer is a plain 500
with nothing injected, whether the value came from a presigned query or from stored metadata."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

INJECTED = "attachment\r\nx-injected: yes\r\n\r\nHTTP/1.1 200 OK"


def _raw_get(url: str, *, keep_alive: bool = False) -> bytes:
    """What the server sends for one GET of `url` on a raw socket: everything until it closes,
    or, with `keep_alive`, one whole answer (head and Content-Length bytes)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     "\r\n".encode())
        got = bytearray()
        while not (keep_alive and _whole_answer(got)):
            chunk = sock.recv(65536)
            if not chunk:
                assert not keep_alive, bytes(got)
                break
            got += chunk
    return bytes(got)


def _whole_answer(got: bytearray) -> bool:
    if b"\r\n\r\n" not in got:
        return False
    length = int(got.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return len(got) >= got.index(b"\r\n\r\n") + 4 + length


def _assert_one_plain_500(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 "), answer[:300]
    assert b"x-injected" not in answer.lower() and answer.count(b"HTTP/1.1 ") == 1
    assert body == b"Internal Server Error"


def test_presigned_content_disposition_with_crlf_does_not_split_the_answer(s3: Any,
                                                                          bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": INJECTED})
    _assert_one_plain_500(_raw_get(url))


def test_stored_metadata_with_crlf_does_not_split_a_get(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "m.txt", Fields={"x-amz-meta-note": INJECTED},
                                      Conditions=[{"x-amz-meta-note": INJECTED}])
    r = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"abc")})
    assert r.status_code == 204, r.text
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "m.txt"})
    _assert_one_plain_500(_raw_get(url))


@pytest.mark.parametrize("byte", ["\r", "\n", "\x00", "\x1f", "\x7f"])
def test_any_forbidden_byte_in_a_value_is_refused(s3: Any, bucket: str, byte: str) -> None:
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": f"a{byte}b"})
    _assert_one_plain_500(_raw_get(url))


def test_a_tab_in_a_value_is_sent(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "o.txt", "ResponseContentDisposition": "a\tb"})
    answer = _raw_get(url, keep_alive=True)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"\r\ncontent-disposition: a\tb\r\n" in answer


def test_a_header_name_with_a_space_is_refused(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "n.txt", Fields={"x-amz-meta-a b": "v"},
                                      Conditions=[{"x-amz-meta-a b": "v"}])
    r = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"abc")})
    assert r.status_code == 204, r.text
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "n.txt"})
    _assert_one_plain_500(_raw_get(url))
