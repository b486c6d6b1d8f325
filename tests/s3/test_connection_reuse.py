"""An error answered before the request body is read closes the connection, so the next request
on a kept-alive connection is never parsed out of the unread body."""

from __future__ import annotations

import socket
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError


def _raw_exchange(url: str, request: bytes) -> bytes:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_an_early_error_with_an_unread_body_answers_connection_close(server: Any) -> None:
    request = (b"PUT /no-such-bucket-" + uuid.uuid4().hex[:8].encode() + b"/key HTTP/1.1\r\n"
               b"Host: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    head = _raw_exchange(server.s3_url, request).lower()
    assert head.startswith(b"http/1.1 4")
    assert b"connection: close" in head


def test_a_refused_upload_does_not_break_the_next_request_of_the_client(
        account: Any, s3_client: Any) -> None:
    s3 = s3_client(account.access_key, account.secret_key)
    bucket = f"reuse-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.put_object(Bucket=f"{bucket}-missing", Key="k", Body=b"x" * 100_000)
    s3.put_object(Bucket=bucket, Key="k", Body=b"y" * 100_000)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y" * 100_000


def test_a_request_without_a_body_keeps_the_connection_open(server: Any) -> None:
    head = _raw_exchange(server.s3_url, b"GET /no-such-bucket-x/key HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert b"connection: close" not in head.lower()


def test_an_early_kos_error_with_an_unread_body_closes_and_keeps_its_request_id(server: Any) -> None:
    """On the KOS port one wrapper (observe.Observed) adds both `connection: close` and the
    request id to the same head."""
    request = (b"PUT /kos/v1/buckets/b/objects HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    head = _raw_exchange(server.kos_url, request).lower()
    assert head.startswith(b"http/1.1 401")
    assert b"connection: close" in head
    assert b"\r\nx-request-id: " in head
