"""Fuzz the request parsers: every input must end in a domain error (KoshaError: a 4xx), never
anything else (which the server would answer as a 500).

    python bench/fuzz_parsers.py                      # every parser, 1,000,000 executions each
    python bench/fuzz_parsers.py --runs 20000 --only range,xml
    python bench/fuzz_parsers.py --engine mutation    # without atheris

Engines: atheris (coverage-guided libFuzzer, `pip install atheris`), one subprocess per parser,
`--jobs` at a time; or a coverage-less mutation fuzzer (random byte edits and splices of the seed
inputs and of inputs seen so far). Prints executions and failures per parser, and the first
distinct failures (exception type and the input) so they can be turned into regression tests.

Parsers: multipart/form-data (KOS upload and S3 POST Object readers), aws-chunked decoding
(unsigned-trailer and signed modes), SigV4 (header and query auth: parse, canonicalise, verify),
the S3 XML readers (raw parse and every document reader), HTTP ranges (Range and
x-amz-copy-source-range).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PARSERS = ("multipart", "chunked", "sigv4", "xml", "range")
NOW_DATE = "20260101T000000Z"
STARTED = time.time()   # the SigV4 seeds are signed now; they are verified as of now, however long the run


# --------------------------------------------------------------------------- input slicing

class Input:
    """Reads a fuzz input as the decisions a target needs (bytes, small ints, splits)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def line(self) -> bytes:
        """Up to the next b"\\n" (consumed, not returned)."""
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end
        out = self.data[self.pos:end]
        self.pos = end + 1
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out


def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits on I/O (its body is an in-memory iterator) to the end,
    without an event loop: a million asyncio.run() calls would measure the loop, not the parser."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("the coroutine waited on something")


def pieces(body: bytes, step: int) -> Any:
    """An async iterator over `body` in pieces of `step` bytes, as a socket delivers it."""
    async def gen() -> Any:
        for i in range(0, len(body), step):
            yield body[i:i + step]
    return gen()


# --------------------------------------------------------------------------- targets

def multipart_target() -> Callable[[bytes], None]:
    from kosha.api.multipart_form import MultipartForm, boundary_of
    from kosha.s3.post_object import _boundary, _Form, _read_fields

    async def kos(body: bytes, boundary: bytes, step: int) -> None:
        async for part in MultipartForm(pieces(body, step), boundary).parts():
            if part.filename is None:
                await part.read(1024)
            else:
                async for _ in part.chunks():
                    pass

    async def s3(body: bytes, boundary: bytes, step: int) -> None:
        form = _Form(pieces(body, step), boundary)
        await _read_fields(form)
        while await form.next() is not None:
            pass

    def target(data: bytes) -> None:
        inp = Input(data)
        which, step = inp.byte(), inp.byte() % 64 + 1
        content_type = inp.line().decode("latin-1")
        body = inp.rest()
        if which & 1:
            boundary = boundary_of(content_type)
            if boundary is not None:
                drive(kos(body, boundary, step))
        else:
            drive(s3(body, _boundary(content_type), step))
    return target


def multipart_seeds() -> list[bytes]:
    form = (b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk/${filename}\r\n"
            b"--xyz\r\nContent-Disposition: form-data; name=\"prefix\"\r\n\r\np/\r\n"
            b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nhello\r\n--xyz--\r\n")
    ct = b"multipart/form-data; boundary=xyz\n"
    return [b"\x01\x07" + ct + form, b"\x00\x3f" + ct + form, b"\x01\x00" + ct + b"--xyz--\r\n"]


def chunked_target() -> Callable[[bytes], None]:
    from kosha.s3.signature.checksum import ChecksumSpec
    from kosha.s3.signature.streaming import (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER,
                                              STREAMING_UNSIGNED_TRAILER, ChunkedDecoder)
    from kosha.s3.signature.v4 import SignedRequest, signing_key

    key = signing_key("secret", NOW_DATE[:8], "r", "s3")
    signed = SignedRequest(access_key="AK", region="r", service="s3",
                           scope=f"{NOW_DATE[:8]}/r/s3/aws4_request", amz_date=NOW_DATE,
                           signature="0" * 64, signing_key=key, content_sha256=STREAMING_SIGNED,
                           presigned=False, security_token=None, signed_headers=("host",))
    modes = (STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER)
    algorithms = ("crc32", "crc32c", "sha256", None)

    async def consume(decoder: ChunkedDecoder) -> None:
        async for _ in decoder:
            pass

    def target(data: bytes) -> None:
        inp = Input(data)
        flags, step = inp.byte(), inp.byte() % 64 + 1
        mode = modes[flags % 3]
        algorithm = algorithms[(flags >> 2) % 4]
        spec = ChecksumSpec(algorithm, None, "trailer") if algorithm else None
        length = inp.byte() if flags & 0x10 else None
        decoder = ChunkedDecoder(pieces(inp.rest(), step), mode, signed=signed,
                                 decoded_length=length, checksum=spec, max_signed_chunk=4096)
        drive(consume(decoder))
    return target


def chunked_seeds() -> list[bytes]:
    import base64
    import zlib
    crc = base64.b64encode(zlib.crc32(b"abc").to_bytes(4, "big"))
    body = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:" + crc + b"\r\n\r\n"
    signed = (b"3;chunk-signature=" + b"0" * 64 + b"\r\nabc\r\n0;chunk-signature=" + b"0" * 64
              + b"\r\n\r\n")
    return [b"\x00\x05" + body, b"\x10\x01\x03" + body, b"\x01\x40" + signed,
            b"\x0e\x02" + signed[:-2] + b"x-amz-checksum-crc32:" + crc
            + b"\r\nx-amz-trailer-signature:" + b"1" * 64 + b"\r\n\r\n"]


def sigv4_target() -> Callable[[bytes], None]:
    from datetime import datetime, timezone

    from kosha.s3.signature.v4 import canonical_request, parse_request_auth

    now = datetime.fromtimestamp(STARTED, timezone.utc)

    def target(data: bytes) -> None:
        inp = Input(data)
        method = inp.line().decode("latin-1")
        path, query = inp.line(), inp.line()
        headers = []
        for raw in inp.rest().split(b"\n"):
            name, _, value = raw.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
        auth = parse_request_auth(method, path, query, headers)
        if auth is not None:
            auth.verify("secret", now)
        else:
            canonical_request(method, path, query, headers, [h[0].decode("latin-1") for h in headers],
                              "UNSIGNED-PAYLOAD")
    return target


def sigv4_seeds() -> list[bytes]:
    from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    seeds = []
    creds = Credentials("AKIDEXAMPLE", "secret")
    for auth_class in (S3SigV4Auth, S3SigV4QueryAuth):
        request = AWSRequest(method="PUT", url="http://h:9000/bucket/a%20key?uploads&x=1",
                             headers={"x-amz-meta-a": "b", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        extra = {"expires": 3600} if auth_class is S3SigV4QueryAuth else {}
        auth_class(creds, "s3", "r", **extra).add_auth(request)
        url = request.url.split("://", 1)[1]
        path_query = url[url.index("/"):]
        path, _, query = path_query.partition("?")
        head = "\n".join(f"{k.lower()}:{v}" for k, v in request.headers.items())
        seeds.append(f"PUT\n{path}\n{query}\nhost:h:9000\n{head}".encode())
    return seeds


def xml_target() -> Callable[[bytes], None]:
    from kosha.s3 import xml
    from kosha.s3.cors import parse_cors
    from kosha.s3.delete import _parse as parse_delete
    from kosha.s3.lifecycle import parse_rules
    from kosha.s3.multipart import _parse_complete
    from kosha.s3.tagging import parse_document

    readers: list[Callable[[bytes], Any]] = [
        xml.parse, parse_delete, parse_cors, parse_rules, _parse_complete,
        lambda body: parse_document(body, 10)]

    def target(data: bytes) -> None:
        inp = Input(data)
        readers[inp.byte() % len(readers)](inp.rest())
    return target


def xml_seeds() -> list[bytes]:
    return [
        b"\x01<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>",
        b"\x02<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET"
        b"</AllowedMethod><MaxAgeSeconds>3</MaxAgeSeconds></CORSRule></CORSConfiguration>",
        b"\x03<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>p/</Prefix></Filter>"
        b"<Status>Enabled</Status><Expiration><Days>3</Days></Expiration>"
        b"<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays>"
        b"</NoncurrentVersionExpiration></Rule></LifecycleConfiguration>",
        b"\x04<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag>"
        b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>",
        b"\x05<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
        b'\x00<?xml version="1.0" encoding="UTF-8"?><a xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"t&amp;<b/></a>",
    ]


def range_target() -> Callable[[bytes], None]:
    from kosha.ranges import parse_range
    from kosha.s3.conditions import parse_copy_range

    def target(data: bytes) -> None:
        inp = Input(data)
        size = int.from_bytes(inp.take(3), "big")
        text = inp.rest().decode("latin-1")    # header values reach the parsers as Latin-1
        parse_range(text, size)
        parse_copy_range(text, size)
    return target


def range_seeds() -> list[bytes]:
    return [b"\x00\x01\x00bytes=0-99", b"\x00\x00\x10bytes=-5", b"\x00\x00\x10bytes=3-",
            b"\x00\x00\x00bytes=0-0", b"\x00\x00\x10bytes=1-2,4-5"]


TARGETS: dict[str, tuple[Callable[[], Callable[[bytes], None]], Callable[[], list[bytes]]]] = {
    "multipart": (multipart_target, multipart_seeds),
    "chunked": (chunked_target, chunked_seeds),
    "sigv4": (sigv4_target, sigv4_seeds),
    "xml": (xml_target, xml_seeds),
    "range": (range_target, range_seeds),
}


# --------------------------------------------------------------------------- the harness

class Tally:
    """Counts executions and failures; keeps the first input of each distinct failure."""

    def __init__(self, name: str, target: Callable[[bytes], None]) -> None:
        from kosha.errors import KoshaError
        self.name, self.target, self.allowed = name, target, KoshaError
        self.executions = self.failures = 0
        self.examples: dict[str, str] = {}
        self.started = time.monotonic()

    def __call__(self, data: bytes) -> None:
        self.executions += 1
        if self.executions % 100_000 == 0:   # progress, in case the run is cut short
            print(json.dumps(self.report(time.monotonic() - self.started)), flush=True)
        try:
            self.target(data)
        except self.allowed:
            pass
        except Exception as exc:  # noqa: BLE001 - what we are looking for
            self.failures += 1
            where = exc.__traceback__
            while where is not None and where.tb_next is not None:
                where = where.tb_next
            line = f"{where.tb_frame.f_code.co_filename}:{where.tb_lineno}" if where else "?"
            signature = f"{type(exc).__name__} at {line}"
            if signature not in self.examples and len(self.examples) < 10:
                self.examples[signature] = f"{exc!r:.200} input={data[:300]!r}"

    def report(self, seconds: float) -> dict[str, Any]:
        return {"parser": self.name, "executions": self.executions, "failures": self.failures,
                "seconds": round(seconds, 1), "examples": self.examples}


def _mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 1:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == 2 and out:
            del out[pos:pos + rng.randint(1, 16)]
        elif op == 3:
            other = rng.choice(pool)
            a = rng.randrange(len(other) + 1)
            out[pos:pos] = other[a:a + rng.randint(1, 64)]
        elif op == 4 and out:
            a = rng.randrange(len(out))
            out[pos:pos] = out[a:a + rng.randint(1, 32)] * rng.randint(1, 50)
        elif op == 5:
            out[pos:pos] = rng.choice([b"\r\n", b"\n", b"--", b"<", b">", b"&#x0;", b"\xff", b"\xb2",
                                       b"\xed\xa0\x80", b"=", b";", b",", b"-", b"0", b"\x00",
                                       b"ffffffffffffffff", b"<!DOCTYPE a>", b"%", b"%ff"])
        elif op == 6 and out:
            out[pos:] = b""
    return bytes(out[:8192])


def run_mutation(tally: Tally, seeds: list[bytes], runs: int, seed: int) -> None:
    rng = random.Random(seed)
    pool = list(seeds)
    for data in seeds:
        tally(data)
    while tally.executions < runs:
        data = _mutate(rng, rng.choice(pool), pool)
        tally(data)
        if rng.random() < 0.01:
            pool.append(data) if len(pool) < 2000 else pool.__setitem__(rng.randrange(len(pool)), data)


def worker(name: str, runs: int, engine: str, seed: int) -> None:
    """One parser in this process; prints its report as one JSON line."""
    make_target, make_seeds = TARGETS[name]
    started = time.monotonic()
    if engine == "atheris":
        import shutil
        import tempfile

        import atheris
        with atheris.instrument_imports(include=["kosha", "python_multipart"]):
            target = make_target()
        tally = Tally(name, target)
        corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        for i, data in enumerate(make_seeds()):
            (corpus / f"seed{i}").write_bytes(data)

        def one(data: bytes) -> None:
            # libFuzzer leaves by exit(), past Python's atexit: report from the last execution.
            tally(data)
            if tally.executions >= runs:
                print(json.dumps(tally.report(time.monotonic() - started)), flush=True)
                shutil.rmtree(corpus, ignore_errors=True)
                os._exit(0)
        atheris.Setup([sys.argv[0], f"-runs={runs + 1000}", "-max_len=4096", f"-seed={seed}",
                       str(corpus)], one)
        atheris.Fuzz()
    else:
        tally = Tally(name, make_target())
        run_mutation(tally, make_seeds(), runs, seed)
        print(json.dumps(tally.report(time.monotonic() - started)), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1_000_000, help="executions per parser")
    ap.add_argument("--only", default=",".join(PARSERS), help="comma-separated parsers")
    ap.add_argument("--engine", choices=("atheris", "mutation", "auto"), default="auto")
    ap.add_argument("--jobs", type=int, default=2, help="parsers fuzzed at the same time")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "mutation"
    if args.worker:
        worker(args.worker, args.runs, engine, args.seed)
        return
    names = [n for n in args.only.split(",") if n]
    print(f"engine: {engine}, {args.runs:,} executions per parser, {args.jobs} at a time", flush=True)
    pending, running, reports = list(names), [], []
    while pending or running:
        while pending and len(running) < args.jobs:
            name = pending.pop(0)
            cmd = [sys.executable, __file__, "--worker", name, "--runs", str(args.runs),
                   "--engine", engine, "--seed", str(args.seed)]
            running.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL, env={**os.environ})))
        time.sleep(0.5)
        for item in list(running):
            name, proc = item
            if proc.poll() is None:
                continue
            running.remove(item)
            lines = [ln for ln in proc.stdout.read().decode().splitlines() if ln.startswith("{")]
            report = json.loads(lines[-1]) if lines else {"parser": name, "executions": 0,
                                                          "failures": -1, "seconds": 0,
                                                          "examples": {"crashed": f"exit {proc.returncode}"}}
            reports.append(report)
            print(f"{report['parser']:<10} executions {report['executions']:>10,}  failures "
                  f"{report['failures']:>6,}  ({report['seconds']} s)", flush=True)
            for signature, example in report["examples"].items():
                print(f"    {signature}: {example}", flush=True)
    failed = sum(r["failures"] != 0 for r in reports)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
