"""Bare reference app: the floor every Kosha figure is compared against.

A few lines of Starlette, run under the same HTTP server as Kosha (uvicorn,
uvloop + httptools, one worker).  It does the minimum work an object store has
to do per request, and nothing else:

    PUT /upload/{name}        stream the body to a file, MD5 (hashlib) on the fly,
                              fsync, answer {"md5", "size"}
    PUT /upload-nomd5/{name}  same without MD5
    PUT /form/{path}          the same for a multipart/form-data body, parsed not at all,
                              under any path (a client's own URL scheme): any form client
                              against the floor (bench/form_upload.py)
    PUT /bare/{key}           an S3 PutObject as boto3 sends it (path style, bucket `bare`),
                              MD5 + fsync, no signature or checksum verified: the floor with
                              an S3 client's own cost in it (bench/s3_put_default.py)
    PUT /bare-checked/{key}   the same, also checking x-amz-content-sha256 and
                              x-amz-checksum-crc32 on the one thread (400 on a mismatch)
    GET /file/{name}          send the file in 1 MiB chunks (StreamingResponse over
                              an async generator); ?chunk=N overrides the chunk size
    GET /small                4 KiB from memory
    PUT /small/{name}         write the (4 KiB) body to a file + fsync in a thread
    GET /healthz              200

Files go to $REF_DATA_DIR (default: a new temp dir).

Run:  REF_DATA_DIR=/tmp/ref uvicorn reference_app:app --app-dir bench \
          --loop uvloop --http httptools --workers 1 --port 8099
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zlib

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

DATA = os.environ.get("REF_DATA_DIR") or tempfile.mkdtemp(prefix="kosha-ref-")
os.makedirs(DATA, exist_ok=True)
CHUNK = 1 << 20
SMALL = b"k" * 4096


def _path(name: str) -> str:
    return os.path.join(DATA, os.path.basename(name))


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


async def _stream_to_file(request: Request, name: str, hashers: list) -> int:
    """Every piece through every hasher and into the file on this one thread, then fsync."""
    size = 0
    with open(_path(name), "wb") as f:
        async for chunk in request.stream():
            for h in hashers:
                h.update(chunk)
            f.write(chunk)
            size += len(chunk)
        f.flush()
        await anyio.to_thread.run_sync(os.fsync, f.fileno())
    return size


async def _receive_to_file(request: Request, md5: bool) -> JSONResponse:
    h = hashlib.md5() if md5 else None
    size = await _stream_to_file(request, request.path_params["name"], [h] if h else [])
    return JSONResponse({"md5": h.hexdigest() if h else None, "size": size})


async def upload(request: Request) -> JSONResponse:
    return await _receive_to_file(request, md5=True)


async def upload_nomd5(request: Request) -> JSONResponse:
    return await _receive_to_file(request, md5=False)


async def s3_put(request: Request) -> Response:
    md5 = hashlib.md5()
    await _stream_to_file(request, request.path_params["key"], [md5])
    return Response(status_code=200, headers={"etag": f'"{md5.hexdigest()}"'})


async def s3_put_checked(request: Request) -> Response:
    md5, checks = hashlib.md5(), []
    sha = request.headers.get("x-amz-content-sha256", "")
    if len(sha) == 64:
        checks.append((hashlib.sha256(), bytes.fromhex(sha)))
    crc = request.headers.get("x-amz-checksum-crc32")
    if crc:
        checks.append((_Crc32(), base64.b64decode(crc)))
    await _stream_to_file(request, request.path_params["key"], [md5] + [h for h, _ in checks])
    if any(h.digest() != want for h, want in checks):
        return Response(status_code=400)
    return Response(status_code=200, headers={"etag": f'"{md5.hexdigest()}"'})


async def get_file(request: Request) -> Response:
    path = _path(request.path_params["name"])
    chunk = int(request.query_params.get("chunk", CHUNK))
    size = os.path.getsize(path)

    async def gen():
        with open(path, "rb") as f:
            while data := f.read(chunk):
                yield data

    return StreamingResponse(gen(), media_type="application/octet-stream",
                             headers={"content-length": str(size)})


async def small_get(request: Request) -> Response:
    return Response(SMALL, media_type="application/octet-stream")


def _write_fsync(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


async def small_put(request: Request) -> JSONResponse:
    data = await request.body()
    await anyio.to_thread.run_sync(_write_fsync, _path(request.path_params["name"]), data)
    return JSONResponse({"size": len(data)})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(routes=[
    Route("/upload/{name}", upload, methods=["PUT"]),
    Route("/upload-nomd5/{name}", upload_nomd5, methods=["PUT"]),
    Route("/form/{name:path}", upload, methods=["PUT"]),
    Route("/bare/{key:path}", s3_put, methods=["PUT"]),
    Route("/bare-checked/{key:path}", s3_put_checked, methods=["PUT"]),
    Route("/file/{name}", get_file, methods=["GET"]),
    Route("/small", small_get, methods=["GET"]),
    Route("/small/{name}", small_put, methods=["PUT"]),
    Route("/healthz", healthz, methods=["GET"]),
])
