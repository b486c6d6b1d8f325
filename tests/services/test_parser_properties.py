"""Property tests of the request parsers, in process (they are pure functions of their input).

Two properties for each: whatever the bytes, a parser answers or raises a domain error (KoshaError,
a 4xx) and nothing else; and what a well-behaved client sends parses back to what it meant.
bench/fuzz_parsers.py runs the first property a million times per parser.
"""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kosha.api.common import MAX_JSON_DEPTH, check_json, field
from kosha.api.errors import error_response as kos_error_response
from kosha.api.multipart_form import MultipartForm, boundary_of
from kosha.errors import Invalid, KoshaError, RangeNotSatisfiable, Unprocessable
from kosha.ids import validate_object_key
from kosha.ranges import parse_range
from kosha.s3 import xml
from kosha.s3.conditions import parse_copy_range
from kosha.s3.delete import _parse as parse_delete
from kosha.s3.error import error_response as s3_error_response
from kosha.s3.error import internal_error
from kosha.s3.signature.checksum import ChecksumSpec
from kosha.s3.signature.streaming import STREAMING_UNSIGNED_TRAILER, ChunkedDecoder
from kosha.s3.signature.v4 import canonical_query, canonical_uri, parse_request_auth

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
XML_CHAR = st.characters(blacklist_categories=["Cs"]).filter(
    lambda c: c in "\t\n\r" or (c >= " " and c not in "\ufffe\uffff"))


async def _pieces(body: bytes, step: int) -> AsyncIterator[bytes]:
    for i in range(0, len(body), step):
        yield body[i:i + step]


# -- ranges -----------------------------------------------------------------------------------

@SETTINGS
@given(st.text(max_size=40), st.integers(0, 10**12))
def test_range_parser_answers_a_range_within_the_object_or_none(header: str, size: int) -> None:
    try:
        got = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    assert got is None or 0 <= got[0] < got[1] <= size


@SETTINGS
@given(st.from_regex(r"\Abytes=[0-9²³¹٠-٩]{0,4}-[0-9²³¹٠-٩]{0,4}\Z"), st.integers(0, 10**6))
def test_only_ascii_digits_make_a_range(header: str, size: int) -> None:
    try:
        got = parse_range(header, size)
    except RangeNotSatisfiable:
        assert header[6:].replace("-", "").isascii()
        return
    if got is not None:
        assert header.isascii()


@SETTINGS
@given(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(1, 10**9))
def test_well_formed_ranges_mean_what_rfc_7233_says(first: int, last: int, size: int) -> None:
    header = f"bytes={first}-{last}"
    if last < first:
        assert parse_range(header, size) is None
    elif first >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
    else:
        assert parse_range(header, size) == (first, min(last + 1, size))


@SETTINGS
@given(st.text(max_size=40), st.integers(0, 10**12))
def test_copy_source_range_parser_raises_only_domain_errors(header: str, size: int) -> None:
    try:
        first, last = parse_copy_range(header, size) or (0, 0)
    except (Invalid, RangeNotSatisfiable):
        return
    assert 0 <= first <= last


# -- XML ---------------------------------------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=300))
def test_xml_reader_raises_only_malformed_xml(body: bytes) -> None:
    try:
        xml.parse(body)
    except Invalid as exc:
        assert exc.s3_code == "MalformedXML"


@settings(max_examples=30, deadline=None)
@given(st.integers(xml.MAX_DEPTH + 1, 200_000))
def test_xml_nested_past_the_limit_is_malformed(depth: int) -> None:
    with pytest.raises(Invalid) as raised:
        xml.parse(b"<a>" * depth + b"</a>" * depth)
    assert raised.value.s3_code == "MalformedXML"


@SETTINGS
@given(st.text(max_size=60))
def test_every_text_written_into_xml_is_well_formed(text: str) -> None:
    document = xml.doc("Root", xml.el("Key", text), xml.el("Prefix", text))
    ET.fromstring(document)


@SETTINGS
@given(st.text(XML_CHAR, min_size=1, max_size=60))
def test_text_xml_can_carry_round_trips(text: str) -> None:
    document = xml.doc("Root", xml.el("Key", text))
    assert ET.fromstring(document).findtext(f"{{{xml.S3_NS}}}Key") == text


@SETTINGS
@given(st.lists(st.tuples(st.text(XML_CHAR, min_size=1, max_size=30),
                          st.none() | st.text(st.characters(min_codepoint=33, max_codepoint=126),
                                              min_size=1, max_size=10)), min_size=1, max_size=5))
def test_delete_objects_document_round_trips(items: list[tuple[str, str | None]]) -> None:
    objects = "".join(xml.el("Object", "")[:-len("</Object>")] + xml.el("Key", k)
                      + (xml.el("VersionId", v) if v else "") + "</Object>" for k, v in items)
    quiet, parsed = parse_delete(f"<Delete>{objects}</Delete>".encode())
    assert parsed == items and quiet is False


# -- multipart/form-data -------------------------------------------------------------------------

async def _read_form(body: bytes, boundary: bytes, step: int) -> list[tuple[str, str | None, bytes]]:
    out = []
    async for part in MultipartForm(_pieces(body, step), boundary).parts():
        out.append((part.name, part.filename, await part.read(1 << 20)))
    return out


@SETTINGS
@given(st.binary(max_size=400), st.integers(1, 64))
def test_multipart_reader_raises_only_domain_errors(body: bytes, step: int) -> None:
    try:
        asyncio.run(_read_form(body, b"xyz", step))
    except KoshaError:
        pass


FIELD_TEXT = st.text(st.characters(blacklist_categories=["Cs", "Cc"],
                                   blacklist_characters='"\\/%'), max_size=20)


@SETTINGS
@given(st.lists(st.tuples(FIELD_TEXT, st.none() | FIELD_TEXT.filter(bool), st.binary(max_size=200)),
                max_size=4),
       st.from_regex(r"\A[0-9A-Za-z'()+_,./:=?-]{1,70}\Z"), st.integers(1, 64))
def test_a_form_a_client_builds_parses_back(parts: list[tuple[str, str | None, bytes]],
                                            boundary: str, step: int) -> None:
    b = boundary.encode()
    assume(all(b"\r\n--" + b not in data for _, _, data in parts))
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + ("" if filename is None else f'; filename="{filename}"')
        body += b"--" + b + b"\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n" + data + b"\r\n"
    body += b"--" + b + b"--\r\n"
    content_type = f'multipart/form-data; boundary="{boundary}"'
    assert boundary_of(content_type) == b
    assert asyncio.run(_read_form(body, b, step)) == parts


@SETTINGS
@given(st.integers(71, 5000))
def test_boundaries_longer_than_rfc_2046_allows_are_refused(length: int) -> None:
    with pytest.raises(Invalid):
        boundary_of("multipart/form-data; boundary=" + "b" * length)


# -- aws-chunked -----------------------------------------------------------------------------

async def _decode(body: bytes, step: int, spec: ChecksumSpec | None, length: int | None) -> bytes:
    out = b""
    async for piece in ChunkedDecoder(_pieces(body, step), STREAMING_UNSIGNED_TRAILER,
                                      checksum=spec, decoded_length=length):
        out += piece
    return out


@SETTINGS
@given(st.binary(max_size=300), st.integers(1, 64))
def test_chunked_decoder_raises_only_domain_errors(body: bytes, step: int) -> None:
    try:
        asyncio.run(_decode(body, step, ChecksumSpec("crc32", None, "trailer"), None))
    except KoshaError:
        pass


@SETTINGS
@given(st.lists(st.binary(min_size=1, max_size=100), max_size=5), st.integers(1, 64))
def test_chunked_bodies_a_client_sends_decode_to_the_payload(chunks: list[bytes], step: int) -> None:
    payload = b"".join(chunks)
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big"))
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks)
    body += b"0\r\nx-amz-checksum-crc32:" + crc + b"\r\n\r\n"
    spec = ChecksumSpec("crc32", None, "trailer")
    assert asyncio.run(_decode(body, step, spec, len(payload))) == payload


# -- SigV4 -----------------------------------------------------------------------------------

@SETTINGS
@given(st.binary(max_size=80), st.binary(max_size=120),
       st.lists(st.tuples(st.binary(min_size=1, max_size=20), st.binary(max_size=60)), max_size=6))
def test_sigv4_parsing_raises_only_domain_errors(path: bytes, query: bytes,
                                                 headers: list[tuple[bytes, bytes]]) -> None:
    try:
        auth = parse_request_auth("GET", path, query, headers)
        if auth is not None:
            auth.verify("secret")
    except KoshaError:
        pass


@SETTINGS
@given(st.binary(max_size=80), st.binary(max_size=120))
def test_canonical_uri_and_query_never_fail(path: bytes, query: bytes) -> None:
    canonical_uri(path)
    canonical_query(query)


# -- JSON bodies and keys ----------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=20)


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), JSON, max_size=4))
def test_json_bodies_pass_or_are_refused_with_a_domain_error(body: dict[str, Any]) -> None:
    try:
        check_json(body)
    except Invalid:
        raw = json.dumps(body)
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in raw) or raw.count("[") + raw.count("{") > MAX_JSON_DEPTH


@SETTINGS
@given(st.integers(MAX_JSON_DEPTH, 5000))
def test_json_nested_past_the_limit_is_400(depth: int) -> None:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    with pytest.raises(Invalid) as raised:
        check_json({"a": value})
    assert raised.value.status == 400


@SETTINGS
@given(st.text(max_size=5), st.integers(0xD800, 0xDFFF), st.text(max_size=5))
def test_lone_surrogates_are_422_naming_the_field(before: str, surrogate: int, after: str) -> None:
    text = before + chr(surrogate) + after
    with pytest.raises(Unprocessable, match="'where'"):
        check_json({"where": text})
    with pytest.raises(Unprocessable, match="'where'"):
        field({"where": text}, "where", str)


@SETTINGS
@given(st.text(min_size=1, max_size=50))
def test_every_key_accepted_can_be_written_into_xml(key: str) -> None:
    try:
        validate_object_key(key)
    except Invalid:
        return
    ET.fromstring(xml.doc("K", xml.el("Key", key)))
    assert xml.esc(key).count("\ufffd") == key.count("\ufffd")


# -- the error renderers never fail --------------------------------------------------------------

@pytest.mark.parametrize("exc", [RecursionError("deep"), UnicodeEncodeError("utf-8", "\ud800", 0, 1, "x"),
                                 UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x")])
def test_undecodable_input_is_400_on_both_ports(exc: Exception) -> None:
    assert kos_error_response(exc).status_code == 400
    response = internal_error(None, exc)
    assert response.status == 400
    assert ET.fromstring(response.body).findtext("Code") == "InvalidArgument"


@SETTINGS
@given(st.text(max_size=40), st.text(max_size=40))
def test_s3_error_documents_are_well_formed_whatever_they_carry(message: str, detail: str) -> None:
    err = Invalid(message, s3_code="SignatureDoesNotMatch", CanonicalRequest=detail, Key=detail)
    response = s3_error_response(None, err, resource=detail, request_id="r")
    assert response.status == 403
    assert ET.fromstring(response.body).findtext("Code") == "SignatureDoesNotMatch"
