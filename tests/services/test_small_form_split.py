"""A small form body received whole is split in one pass (`split_small_form`) instead of going
through python-multipart's parser; anything outside the plain shape that pass takes goes to the
parser. So whatever the body, `MultipartForm.of_body` must give what the parser gives reading it in
one piece: the same parts (headers and bytes), or the same refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kosha.api.multipart_form import MultipartForm, boundary_of, split_small_form
from kosha.errors import Invalid

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUNDARY = b"----WebKitFormBoundaryjAS409xAMTqIOxBt"
DELIMITER = b"\r\n--" + BOUNDARY

HEADER_LINES = st.sampled_from([
    b'Content-Disposition: form-data; name="file"; filename="a.bin"',
    b'Content-Disposition: form-data; name="prefix"',
    b'Content-Disposition:form-data; name="file"; filename="b b.txt"',
    b'content-disposition:   form-data; name="file"; filename="\xc3\xa9.txt"',
    b"Content-Type: text/plain", b"Content-Type: ", b"Content-Type:", b"X-Empty:   ",
    b"Content-Type:\ttext/plain", b"X-Odd!#$%&'*+-.^_`|~: v", b"Bad Name: v", b": no name",
    b"no colon at all", b"X-Lf: a\nb", b"X-Cr: a\rb", b"X-Long: " + b"v" * 1100,
    b"Content-Disposition: attachment; filename=x",
])
DATA = st.lists(st.sampled_from([b"\r", b"\r\n", b"\r\n--", DELIMITER + b"x", DELIMITER + b" ",
                                 b"--" + BOUNDARY, b"-"]) | st.binary(max_size=30),
                max_size=8).map(b"".join)
GOOD_LINES = st.sampled_from([
    b'Content-Disposition: form-data; name="file"; filename="a.bin"',
    b'Content-Disposition: form-data; name="prefix"',
    b'content-disposition:   form-data; name="file"; filename="\xc3\xa9.txt"',
    b"Content-Type: text/plain", b"Content-Type:", b"X-Empty:   ", b"X-Odd!#$%&'*+-.^_`|~: v",
    b"Content-Type:\ttext/plain",
])
PLAIN_DATA = st.lists(st.sampled_from([b"\r", b"\r\n", b"\r\n--", b"--" + BOUNDARY, b"-",
                                       DELIMITER[:-1]]) | st.binary(max_size=30),
                      max_size=8).map(b"".join).filter(lambda d: DELIMITER not in d + b"\r\n--")
ENDINGS = st.sampled_from([b"\r\n", b"--", b"--\r\n", b"--\r\nepilogue", b"-", b"", b" \r\n",
                           b"x"])


@st.composite
def bodies(draw: Any) -> bytes:
    body = draw(st.sampled_from([b"", b"\r\n", b"preamble\r\n"]))
    parts = draw(st.integers(0, 3))
    if parts == 0:
        return body + b"--" + BOUNDARY + draw(ENDINGS)
    for i in range(parts):
        body += b"--" + BOUNDARY + b"\r\n" if i == 0 else b""
        lines = draw(st.lists(HEADER_LINES, max_size=10))
        body += b"".join(line + b"\r\n" for line in lines) + b"\r\n" + draw(DATA) + DELIMITER
        body += draw(ENDINGS) if i == parts - 1 else b"\r\n"
    return body


@st.composite
def plain_bodies(draw: Any) -> bytes:
    """Bodies of the shape the one-pass split takes."""
    body = b""
    parts = draw(st.integers(1, 3))
    for i in range(parts):
        lines = draw(st.lists(GOOD_LINES, max_size=8))
        body += b"--" + BOUNDARY + b"\r\n" if i == 0 else b""
        body += b"".join(line + b"\r\n" for line in lines) + b"\r\n" + draw(PLAIN_DATA) + DELIMITER
        body += draw(st.sampled_from([b"--", b"--\r\n", b"--\r\nepilogue"])) if i == parts - 1 \
            else b"\r\n"
    return body


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _collect(form: MultipartForm) -> list[tuple[dict[str, str], bytes]] | str:
    out = []
    try:
        async for part in form.parts():
            data = b"".join([bytes(c) async for c in part.chunks()])
            out.append((dict(part.headers), data))
    except Invalid as exc:
        return f"refused: {exc}"
    return out


def whole(body: bytes) -> Any:
    return asyncio.run(_collect(MultipartForm.of_body(body, BOUNDARY)))


def parsed(body: bytes) -> Any:
    return asyncio.run(_collect(MultipartForm(_one(body), BOUNDARY)))


def plain(*parts: tuple[list[bytes], bytes]) -> bytes:
    body = b""
    for lines, data in parts:
        body += b"--" + BOUNDARY + b"\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\n" + data
        body += b"\r\n"
    return body + b"--" + BOUNDARY + b"--\r\n"


@SETTINGS
@given(bodies())
@example(plain(([b'Content-Disposition: form-data; name="file"; filename="a"'], b"x" * 4096)))
@example(plain(([], b"")))
def test_a_body_split_in_one_pass_parses_as_the_parser_parses_it(body: bytes) -> None:
    assert whole(body) == parsed(body)


@SETTINGS
@given(plain_bodies())
def test_a_plain_body_takes_the_one_pass_split_and_parses_as_the_parser_parses_it(
        body: bytes) -> None:
    assert split_small_form(body, BOUNDARY) is not None
    assert whole(body) == parsed(body)


@SETTINGS
@given(plain_bodies() | bodies(), st.data())
def test_a_damaged_body_still_parses_as_the_parser_parses_it(body: bytes, data: Any) -> None:
    if body:
        at = data.draw(st.integers(0, len(body) - 1))
        body = body[:at] + data.draw(st.sampled_from([b"", b"\r", b"\n", b"-", b":", b" "])) \
            + body[at + data.draw(st.integers(0, 3)):]
    assert whole(body) == parsed(body)


def test_the_plain_shapes_clients_send_take_the_one_pass_split() -> None:
    curl = plain(([b'Content-Disposition: form-data; name="prefix"'], b"2026/"),
                 ([b'Content-Disposition: form-data; name="file"; filename="r.md"',
                   b"Content-Type: application/octet-stream"], b"# title\r\n"))
    events = split_small_form(curl, BOUNDARY)
    assert events is not None
    assert whole(curl) == parsed(curl) == [
        ({"content-disposition": 'form-data; name="prefix"'}, b"2026/"),
        ({"content-disposition": 'form-data; name="file"; filename="r.md"',
          "content-type": "application/octet-stream"}, b"# title\r\n")]


def test_what_the_one_pass_split_does_not_take_is_left_to_the_parser() -> None:
    ok = plain(([b'Content-Disposition: form-data; name="file"; filename="a"'], b"data"))
    assert split_small_form(ok, BOUNDARY) is not None
    for other in (b"\r\n" + ok,                                  # leading CRLF
                  ok.replace(b"data", b"data" + DELIMITER + b"x"),  # a delimiter lookalike
                  ok.replace(b"Content-Disposition", b"Content Disposition"),
                  ok[:-4]):                                      # no closing `--`
        assert split_small_form(other, BOUNDARY) is None, other
        assert whole(other) == parsed(other)


def test_the_plain_content_type_gives_the_general_parse_s_boundary() -> None:
    for value in ("multipart/form-data; boundary=abc", "Multipart/Form-Data;boundary=a'()+_,./:=?-1",
                  "multipart/form-data; BOUNDARY=xyz", 'multipart/form-data; boundary="quoted"',
                  "multipart/form-data; boundary=abc; charset=utf-8", "multipart/form-data;  boundary=x",
                  "text/plain; boundary=x", "multipart/form-data; boundary=a b"):
        import kosha.api.multipart_form as mf
        general = mf._PLAIN_FORM_TYPE
        try:
            mf._PLAIN_FORM_TYPE = __import__("re").compile(r"(?!)")   # never matches
            expected = boundary_of(value)
        finally:
            mf._PLAIN_FORM_TYPE = general
        assert boundary_of(value) == expected, value


DISPOSITION_PIECES = st.sampled_from(['form-data', 'Form-Data', 'attachment', '; ', ';', ' ', 'name=',
                                      'filename=', 'NAME=', 'filename*=', '"', '\\', '\\"', ';',
                                      'a', 'é', 'C:\\dir\\f.txt', '\\\\srv\\f', '=', 'file',
                                      'x.bin', '\t'])


@SETTINGS
@given(st.lists(DISPOSITION_PIECES, max_size=12).map("".join)
       | st.tuples(st.text(alphabet='ab "\\;=é', max_size=8),
                   st.none() | st.text(alphabet='ab "\\;=é:.', max_size=8)).map(
           lambda t: f'form-data; name="{t[0]}"' + ("" if t[1] is None else f'; filename="{t[1]}"')))
def test_a_part_s_name_and_file_name_are_the_general_parse_s(disposition: str) -> None:
    import kosha.api.multipart_form as mf
    headers = {"content-disposition": disposition}

    def part() -> tuple[str, str | None] | str:
        try:
            p = mf.FormPart(None, headers)  # type: ignore[arg-type]
        except Invalid as exc:
            return f"refused: {exc}"
        return p.name, p.filename

    fast = part()
    plain = mf._PLAIN_DISPOSITION
    try:
        mf._PLAIN_DISPOSITION = __import__("re").compile(r"(?!)")   # the general parse only
        general = part()
    finally:
        mf._PLAIN_DISPOSITION = plain
    assert fast == general
