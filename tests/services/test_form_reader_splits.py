"""The multipart/form-data reader gives the same parts however the body is split into reads.

Clients frame uploads differently (curl writes 64 KiB pieces, browsers 16 KiB, requests the whole
body at once) and the socket splits them again, so a delimiter, or a CR that looks like the start
of one, can fall anywhere relative to a read. Chunks that hold only file bytes skip the parser
(kosha.api.multipart_form), so these check that every split agrees with a one-read parse.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kosha.api.multipart_form import (WINDOW, MultipartForm, ends_with_delimiter_start,
                                      find_delimiter)
from kosha.errors import Invalid

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUNDARY = b"----WebKitFormBoundaryjAS409xAMTqIOxBt"
DELIMITER = b"\r\n--" + BOUNDARY
# File bytes that look like the start of a delimiter, without being one.
LOOKALIKES = [b"\r", b"\r\n", b"\r\n-", b"\r\n--", b"\r\n--" + BOUNDARY[:-1], b"\n--" + BOUNDARY,
              DELIMITER + b"x", b"--" + BOUNDARY]
NEAR_MISSES = st.sampled_from([d for d in LOOKALIKES if DELIMITER not in d])
FILE_BYTES = st.lists(st.sampled_from(LOOKALIKES) | st.binary(max_size=40), max_size=12).map(
    b"".join).filter(lambda data: (data + DELIMITER).find(DELIMITER) == len(data))


def form(files: list[bytes], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    body = preamble + (b"\r\n" if preamble else b"")
    for i, data in enumerate(files):
        body += (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"file\"; "
                 b"filename=\"f" + str(i).encode() + b".bin\"\r\n\r\n" + data + b"\r\n")
    return body + b"--" + BOUNDARY + b"--\r\n" + epilogue


async def _reads(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    edges = [0, *sorted(c for c in cuts if 0 < c < len(body)), len(body)]
    for start, end in zip(edges, edges[1:]):
        if end > start:
            yield body[start:end]


async def _parts(reads: AsyncIterator[bytes]) -> list[tuple[str | None, bytes]]:
    out = []
    async for part in MultipartForm(reads, BOUNDARY).parts():
        out.append((part.filename, b"".join([bytes(c) async for c in part.chunks()])))
    return out


def parse(body: bytes, cuts: list[int]) -> list[tuple[str | None, bytes]]:
    return asyncio.run(_parts(_reads(body, cuts)))


def expected(files: list[bytes]) -> list[tuple[str | None, bytes]]:
    return [(f"f{i}.bin", data) for i, data in enumerate(files)]


# -- the delimiter search ---------------------------------------------------------------------

@SETTINGS
@given(st.integers(0, 5 * WINDOW), st.integers(0, 5 * WINDOW), NEAR_MISSES)
def test_the_windowed_search_finds_the_first_delimiter_wherever_it_lies(
        size: int, at: int, decoy: bytes) -> None:
    data = bytearray(b"\x00" * size)
    at = min(at, size)
    data[max(0, at - len(decoy)):at] = decoy[:at]
    data[at:at] = DELIMITER
    data = bytes(data) + DELIMITER
    assert find_delimiter(data, DELIMITER) == data.find(DELIMITER) == at


def test_the_windowed_search_finds_a_delimiter_at_every_offset_near_a_window_edge() -> None:
    for edge in (WINDOW, 2 * WINDOW, 3 * WINDOW, 4 * WINDOW):
        for at in range(edge - len(DELIMITER) - 1, edge + 2):
            data = b"\x00" * at + DELIMITER + b"\x00" * (2 * WINDOW)
            assert find_delimiter(data, DELIMITER) == at, at


@SETTINGS
@given(st.integers(0, 5 * WINDOW), NEAR_MISSES)
def test_the_windowed_search_reports_no_delimiter_when_there_is_none(size: int, decoy: bytes) -> None:
    data = b"\x00" * size + decoy
    assert find_delimiter(data, DELIMITER) == -1


@SETTINGS
@given(st.binary(max_size=20), st.integers(0, len(DELIMITER)), st.sampled_from([b"", b"\r", b"x"]))
def test_a_chunk_ending_in_a_delimiters_beginning_is_recognised(
        head: bytes, cut: int, tail: bytes) -> None:
    data = head + DELIMITER[:cut] + tail
    brute = any(data.endswith(DELIMITER[:k]) for k in range(1, len(DELIMITER)))
    assert ends_with_delimiter_start(data, DELIMITER) == brute


# -- whole forms, split into reads ------------------------------------------------------------

@SETTINGS
@given(st.lists(FILE_BYTES, min_size=1, max_size=3), st.lists(st.integers(0, 700), max_size=8),
       st.sampled_from([b"", b"\r\n", b"\r\nepilogue, ignored\r\n"]))
def test_a_form_split_into_any_reads_parses_like_one_read(
        files: list[bytes], cuts: list[int], epilogue: bytes) -> None:
    body = form(files, epilogue=epilogue)
    assert parse(body, cuts) == parse(body, []) == expected(files)


@SETTINGS
@given(st.lists(st.integers(0, 300), max_size=6))
def test_a_preamble_is_refused_however_the_body_is_split(cuts: list[int]) -> None:
    with pytest.raises(Invalid):
        parse(form([b"data"], preamble=b"a preamble"), cuts)


def test_a_delimiter_split_at_every_offset_still_ends_the_part() -> None:
    files = [b"x" * 100 + b"\r\n--" + BOUNDARY[:5] + b"y" * 100, b"z" * 50]
    body = form(files)
    for cut in range(1, len(body)):
        for gap in (1, 7, len(DELIMITER)):
            assert parse(body, [cut, cut + gap]) == expected(files), (cut, gap)


def test_one_byte_reads_give_the_same_parts() -> None:
    files = [b"\r\n-\r\n--" + BOUNDARY[:-2] + b"\r", b"", b"last\r"]
    body = form(files, epilogue=b"epilogue")
    assert parse(body, list(range(len(body)))) == expected(files)


def test_big_reads_with_the_delimiter_across_a_search_window_edge_keep_every_byte() -> None:
    for offset in range(-len(DELIMITER), 2):
        size = 3 * WINDOW + offset - 150   # the part header is ~100 bytes: the end lands there
        files = [bytes(range(256)) * (size // 256) + b"\r\n-" * 7, b"second"]
        body = form(files)
        assert parse(body, [64 * 1024]) == expected(files), offset
        assert parse(body, [4 * WINDOW, 8 * WINDOW]) == expected(files), offset


def test_a_read_that_ends_in_a_lookalike_and_continues_as_data_keeps_every_byte() -> None:
    files = [b"a" * 40 + lookalike + b"b" * 40 for lookalike in LOOKALIKES]
    body = form(files)
    for i, data in enumerate(files):
        start = body.index(data)
        for k in range(40, len(data) - 39):   # a read ends inside the lookalike or just after it
            assert parse(body, [start + k])[i] == (f"f{i}.bin", data), (i, k)
