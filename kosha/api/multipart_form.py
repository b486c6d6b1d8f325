"""A streaming `multipart/form-data` reader: parts one after another, each body an async iterator.

Starlette's `request.form()` spools every file part to a temporary file before the handler sees
it; an upload must instead flow from the socket into the blob store (DESIGN.md, write path). This
wraps `python_multipart`'s incremental parser: each chunk the server receives is fed to the parser,
whose callbacks queue events, and the consumer drains the queue before the next chunk is read, so
memory holds at most one received chunk (uvicorn's flow control pauses the socket meanwhile).

    form = MultipartForm(request.stream(), boundary)
    async for part in form.parts():
        part.name, part.filename, part.content_type
        async for chunk in part.chunks(): ...      # or: await part.read(limit)

A part whose body is not consumed is skipped when the next part is requested.

Inside a part's body, a received chunk that holds no delimiter (nor the start of one at its end)
is passed on as it is without going through the parser: the delimiter is searched for a window
at a time (`find_delimiter`), about twice as fast on file bytes as the parser's search over the
whole chunk (docs/benchmarks.md, "Form uploads (issue 8)"), and the chunk is never sliced.

A small body already received whole (`MultipartForm.of_body`, a few KiB: the usual small upload)
is split in one pass (`split_small_form`) without building python-multipart's parser at all,
which cost more than the rest of a 4 KiB form upload's handler (docs/benchmarks.md, "Small durable
writes (issue 8)"). That pass takes only a plain, strict shape of form (no preamble, part headers
of token names and one-line values, each part ended by a delimiter followed by CRLF or `--`);
anything else goes through the parser as one read, so what is accepted or refused, and how, is
the parser's as before.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import (TOKEN_CHARS, MultipartParser, MultipartState,
                                       parse_options_header)

from ..errors import Invalid

_BEGIN, _HEADERS, _DATA, _END, _FINISHED = range(5)
MAX_HEADER_BYTES = 16 * 1024
MAX_BOUNDARY = 70   # RFC 2046 section 5.1.1
# CPython's bytes.find uses its skip search below 30,000 bytes of haystack and two-way above,
# which runs at about half the speed on random bytes (measured: 5.0 vs 2.8 GB/s).
WINDOW = 16 * 1024
# Bodies up to this size may be read whole and split in one pass (MultipartForm.of_body).
SMALL_FORM = 64 * 1024
# What the one-pass split takes; past these the parser decides (its own limits are larger).
_SMALL_MAX_HEADERS = 8
_SMALL_MAX_HEADER_LINE = 1024


# The plain `multipart/form-data; boundary=X` every client sends, X without quotes, spaces or `;`:
# the boundary parse_options_header would give, without its general parse.
_PLAIN_FORM_TYPE = re.compile(r"multipart/form-data; ?boundary=([0-9A-Za-z'()+_,./:=?-]+)",
                              re.IGNORECASE | re.ASCII)

# The Content-Disposition of a part as every client writes it: quoted values without `"` or `\`
# inside (so nothing to unescape, and no IE-style `C:\...` path to cut).
_PLAIN_DISPOSITION = re.compile(r'form-data; name="([^"\\]*)"(?:; filename="([^"\\]*)")?')


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a `multipart/form-data` Content-Type, or None if it is not one."""
    plain = _PLAIN_FORM_TYPE.fullmatch(content_type)
    if plain is not None:
        return check_boundary(plain.group(1).encode("latin-1"))
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    if not boundary:
        raise Invalid("multipart/form-data request without a boundary")
    return check_boundary(boundary)


def find_delimiter(data: bytes, delimiter: bytes) -> int:
    """`data.find(delimiter)`, searched in windows short enough for CPython's faster search.

    Windows overlap by len(delimiter) - 1 bytes, so an occurrence starting in one is found there,
    and the first window with one holds the first occurrence."""
    size, overlap = len(data), len(delimiter) - 1
    if size <= 2 * WINDOW:
        return data.find(delimiter)
    for start in range(0, size, WINDOW):
        found = data.find(delimiter, start, start + WINDOW + overlap)
        if found >= 0:
            return found
    return -1


def ends_with_delimiter_start(data: bytes, delimiter: bytes) -> bool:
    """Whether `data` ends with a proper beginning of `delimiter` (CRLF--boundary): the rest may
    come in the next chunk. A boundary holds no CR, so only the last CR can begin one."""
    tail = data[-(len(delimiter) - 1):]
    cr = tail.rfind(b"\r")
    return cr >= 0 and delimiter.startswith(tail[cr:])


def check_boundary(boundary: bytes) -> bytes:
    """A boundary RFC 2046 allows (1 to 70 characters), or 400."""
    if len(boundary) > MAX_BOUNDARY:
        raise Invalid(f"the multipart boundary is longer than {MAX_BOUNDARY} characters",
                      s3_code="MalformedPOSTRequest")
    return boundary


class FormPart:
    """One part: its headers, and its body as a stream (read once)."""

    def __init__(self, form: MultipartForm, headers: dict[str, str]) -> None:
        self._form = form
        self.headers = headers
        raw = headers.get("content-disposition", "")
        plain = _PLAIN_DISPOSITION.fullmatch(raw)
        if plain is not None:   # what parse_options_header gives for it, without its general parse
            self.name = _text(plain.group(1).encode("latin-1"))
            raw_name = plain.group(2)
            self.filename = None if raw_name is None else _text(raw_name.encode("latin-1"))
        else:
            disposition, params = parse_options_header(raw)
            if disposition != b"form-data":
                raise Invalid("each multipart part needs 'Content-Disposition: form-data'")
            self.name = _text(params.get(b"name", b""))
            raw_filename = params.get(b"filename")
            self.filename = None if raw_filename is None else _text(raw_filename)
        content_type = headers.get("content-type")
        self.content_type = content_type.strip() if content_type else None
        self.done = False

    def chunks(self) -> AsyncIterator[bytes]:
        """The part's body, as the bytes arrive."""
        return _Chunks(self)

    async def read(self, limit: int) -> bytes:
        """The whole (small) body of a plain field; 400 past `limit` bytes."""
        out = bytearray()
        async for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise Invalid(f"form field {self.name!r} is longer than {limit} bytes")
        return bytes(out)

    async def skip(self) -> None:
        async for _chunk in self.chunks():
            pass


class MultipartForm:
    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes) -> None:
        self._stream = stream.__aiter__()
        self._events: deque[tuple[int, Any]] = deque()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._finished = False
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }, max_header_size=MAX_HEADER_BYTES)

    @classmethod
    def of_body(cls, body: bytes, boundary: bytes) -> MultipartForm:
        """The form of a body received whole: split in one pass when it has the plain shape
        `split_small_form` takes, else parsed as one read, exactly like a streamed body."""
        events = split_small_form(body, boundary)
        if events is None:
            return cls(_once(body), boundary)
        form = cls.__new__(cls)
        form._events = deque(events)
        form._finished = True   # every event is queued: nothing more is read or parsed
        return form

    def parts(self) -> AsyncIterator[FormPart]:
        """Each part in order, once its headers are read; the previous part's rest is skipped."""
        return _Parts(self)

    async def _next(self) -> tuple[int, Any]:
        while not self._events:
            if self._finished:
                return _FINISHED, None
            try:
                chunk = await self._stream.__anext__()
            except StopAsyncIteration:
                raise Invalid("the multipart body ended before its closing boundary") from None
            if self._all_part_data(chunk):
                self._events.append((_DATA, chunk))
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise Invalid(f"malformed multipart body: {exc}") from None
            except Exception:   # the parser is not ours: whatever else it raises is bad input
                raise Invalid("malformed multipart body") from None
        return self._events.popleft()

    def _all_part_data(self, chunk: bytes) -> bool:
        """Whether the whole chunk belongs to the current part's body: the parser is inside one
        with no partial delimiter pending, and the chunk neither holds nor ends with the start
        of one. Such a chunk leaves the parser's state as it is, so it can skip the parser."""
        parser = self._parser
        # getattr: should a python-multipart release rename these, only the fast path is lost.
        if getattr(parser, "state", None) != MultipartState.PART_DATA \
                or getattr(parser, "index", None) != 0 or not chunk:
            return False
        delimiter = parser.boundary   # CRLF "--" boundary
        return find_delimiter(chunk, delimiter) < 0 \
            and not ends_with_delimiter_start(chunk, delimiter)

    # -- parser callbacks (synchronous, inside parser.write) -------------------------------
    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1")  # bytes kept; see _text
        self._header_name, self._header_value = bytearray(), bytearray()

    def _on_headers_finished(self) -> None:
        self._events.append((_HEADERS, self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        # Most chunks are all file data: pass them on as they are rather than copy them.
        self._events.append((_DATA, data if start == 0 and end == len(data) else data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append((_END, None))

    def _on_end(self) -> None:
        self._finished = True
        self._events.append((_FINISHED, None))


# Iterators written as classes rather than async generators: the event loop registers every
# async generator when it first runs (a WeakSet entry and a finalizer), a cost per request that
# showed in the 4 KiB upload's profile.
class _Parts:
    def __init__(self, form: MultipartForm) -> None:
        self._form = form
        self._part: FormPart | None = None

    def __aiter__(self) -> _Parts:
        return self

    async def __anext__(self) -> FormPart:
        part = self._part
        if part is not None and not part.done:
            await part.skip()
        while True:
            kind, data = await self._form._next()
            if kind == _FINISHED:
                raise StopAsyncIteration
            if kind == _HEADERS:
                self._part = FormPart(self._form, data)
                return self._part


class _Chunks:
    def __init__(self, part: FormPart) -> None:
        self._part = part

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        part = self._part
        if part.done:
            raise StopAsyncIteration
        kind, data = await part._form._next()
        if kind == _DATA:
            return data  # type: ignore[no-any-return]
        if kind == _END:
            part.done = True
            raise StopAsyncIteration
        raise Invalid("malformed multipart body")


def split_small_form(body: bytes, boundary: bytes) -> list[tuple[int, Any]] | None:
    """The events the parser would queue for a whole body (headers, data, end of each part,
    then the end of the form), or None when the body is not of the plain shape this takes:
    `--boundary CRLF`, then per part header lines `Name: value` (token names, values without CR
    or LF, at most 8) and a blank line, the data, and `CRLF--boundary` followed by CRLF (another
    part) or `--` (the end; what follows, the epilogue, is ignored as the parser ignores it).
    Within that shape the parser's events are exactly these (tests/services/
    test_small_form_split.py compares them); for anything else it must decide."""
    opening = b"--" + boundary + b"\r\n"
    if not body.startswith(opening):
        return None
    delimiter = b"\r\n--" + boundary
    events: list[tuple[int, Any]] = []
    at = len(opening)
    while True:
        headers: dict[str, str] = {}
        if body.startswith(b"\r\n", at):
            at += 2
        else:
            end = body.find(b"\r\n\r\n", at)
            if end < 0:
                return None
            lines = body[at:end].split(b"\r\n")
            if len(lines) > _SMALL_MAX_HEADERS:
                return None
            for line in lines:
                colon = line.find(b":")
                if colon <= 0 or len(line) > _SMALL_MAX_HEADER_LINE or b"\r" in line \
                        or b"\n" in line or line[:colon].translate(None, TOKEN_CHARS):
                    return None
                headers[line[:colon].decode("latin-1").lower()] = \
                    line[colon + 1:].lstrip(b" ").decode("latin-1")
            at = end + 4
        found = body.find(delimiter, at)
        if found < 0:
            return None
        after = found + len(delimiter)
        follows = body[after:after + 2]
        if follows not in (b"\r\n", b"--"):
            return None
        events.append((_HEADERS, headers))
        if found > at:
            events.append((_DATA, body[at:found]))
        events.append((_END, None))
        if follows == b"--":
            events.append((_FINISHED, None))
            return events
        at = after + 2


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _text(raw: bytes) -> str:
    """A header parameter's bytes as text: clients send UTF-8 names raw; anything else latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
