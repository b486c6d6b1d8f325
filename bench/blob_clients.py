"""Which S3 client library the `s3://` blob store uses: measured, not guessed.

Against a running S3 endpoint (scripts/ceph-rgw), each candidate streams a 256 MiB blob in
1 MiB chunks (as the server hands them over) and reads it back in a stream, then PUTs and GETs
4 KiB blobs one after another. Medians of --runs, and each candidate's ratio to boto3 in a
thread (the reference) in the same run.

    scripts/ceph-rgw start /tmp/rgw 7480
    RGW_ENDPOINT=http://127.0.0.1:7480 RGW_ACCESS_KEY=... RGW_SECRET_KEY=... python bench/blob_clients.py
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import obstore
from botocore.config import Config
from obstore.store import S3Store

MiB = 1 << 20
CHUNK = os.urandom(MiB)
SMALL = os.urandom(4096)


def boto_client():  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=os.environ["RGW_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=os.environ["RGW_ACCESS_KEY"],
                        aws_secret_access_key=os.environ["RGW_SECRET_KEY"],
                        config=Config(max_pool_connections=32))


def obstore_store(bucket: str) -> S3Store:
    return S3Store(bucket, endpoint=os.environ["RGW_ENDPOINT"], region="us-east-1",
                   access_key_id=os.environ["RGW_ACCESS_KEY"],
                   secret_access_key=os.environ["RGW_SECRET_KEY"],
                   client_options={"allow_http": True})


class BotoThread:
    """boto3 in a thread pool: multipart parts of 16 MiB uploaded 4 at a time."""
    name = "boto3 in threads"

    def __init__(self, bucket: str) -> None:
        self.c, self.bucket, self.pool = boto_client(), bucket, ThreadPoolExecutor(8)

    async def _t(self, fn, *a, **kw):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: fn(*a, **kw))

    async def put_big(self, key: str, mib: int) -> None:
        up = await self._t(self.c.create_multipart_upload, Bucket=self.bucket, Key=key)
        part, buf, n, tasks = 16 * MiB, [], 0, []
        sem = asyncio.Semaphore(4)

        async def send(no: int, data: bytes) -> dict:
            async with sem:
                r = await self._t(self.c.upload_part, Bucket=self.bucket, Key=key, PartNumber=no,
                                  UploadId=up["UploadId"], Body=data)
                return {"PartNumber": no, "ETag": r["ETag"]}
        for _ in range(mib):
            buf.append(CHUNK)
            if len(buf) * MiB >= part:
                n += 1
                tasks.append(asyncio.ensure_future(send(n, b"".join(buf))))
                buf = []
        if buf:
            n += 1
            tasks.append(asyncio.ensure_future(send(n, b"".join(buf))))
        parts = await asyncio.gather(*tasks)
        await self._t(self.c.complete_multipart_upload, Bucket=self.bucket, Key=key,
                      UploadId=up["UploadId"], MultipartUpload={"Parts": parts})

    async def get_big(self, key: str) -> int:
        body = (await self._t(self.c.get_object, Bucket=self.bucket, Key=key))["Body"]
        n = 0
        while chunk := await self._t(body.read, MiB):
            n += len(chunk)
        return n

    async def put_small(self, key: str) -> None:
        await self._t(self.c.put_object, Bucket=self.bucket, Key=key, Body=SMALL)

    async def get_small(self, key: str) -> None:
        await self._t(lambda: self.c.get_object(Bucket=self.bucket, Key=key)["Body"].read())


class Obstore:
    """obstore (Rust object_store): its async buffered writer and streamed get."""
    name = "obstore"

    def __init__(self, bucket: str) -> None:
        self.s = obstore_store(bucket)

    async def put_big(self, key: str, mib: int) -> None:
        w = obstore.open_writer_async(self.s, key, buffer_size=16 * MiB, max_concurrency=4)
        for _ in range(mib):
            await w.write(CHUNK)
        await w.close()

    async def get_big(self, key: str) -> int:
        r = await obstore.get_async(self.s, key)
        n = 0
        async for chunk in r.stream(min_chunk_size=MiB):
            n += len(chunk)
        return n

    async def put_small(self, key: str) -> None:
        await obstore.put_async(self.s, key, SMALL)

    async def get_small(self, key: str) -> None:
        r = await obstore.get_async(self.s, key)
        await r.bytes_async()


class Crt:
    """awscrt's S3 client (C, its own threads): 16 MiB parts; the body is a blocking stream the
    CRT pulls from (in the server this would need a queue between the event loop and its threads)."""
    name = "awscrt S3Client"

    def __init__(self, bucket: str) -> None:
        from awscrt.auth import AwsCredentialsProvider
        from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
        from awscrt.s3 import S3Client, S3RequestTlsMode
        group = EventLoopGroup()
        creds = AwsCredentialsProvider.new_static(os.environ["RGW_ACCESS_KEY"], os.environ["RGW_SECRET_KEY"])
        endpoint = os.environ["RGW_ENDPOINT"]
        self.host = endpoint.split("://", 1)[1].rstrip("/")
        self.bucket = bucket
        self.c = S3Client(bootstrap=ClientBootstrap(group, DefaultHostResolver(group)), region="us-east-1",
                          credential_provider=creds, part_size=16 * MiB, throughput_target_gbps=1,
                          tls_mode=S3RequestTlsMode.DISABLED if endpoint.startswith("http:") else None)

    async def _run(self, method: str, key: str, body: Any = None, length: int = 0,
                   on_body: Any = None) -> None:
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType
        headers = [("Host", self.host)] + ([("Content-Length", str(length))] if method == "PUT" else [])
        kind = S3RequestType.PUT_OBJECT if method == "PUT" else S3RequestType.GET_OBJECT
        request = self.c.make_request(type=kind, on_body=on_body, request=HttpRequest(
            method, f"/{self.bucket}/{key}", HttpHeaders(headers), body))
        await asyncio.wrap_future(request.finished_future)

    async def put_big(self, key: str, mib: int) -> None:
        class Chunks(io.RawIOBase):
            left = mib * MiB

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                n = min(len(buffer), MiB, self.left)
                buffer[:n] = CHUNK[:n]
                self.left -= n
                return n
        await self._run("PUT", key, io.BufferedReader(Chunks(), MiB), mib * MiB)

    async def get_big(self, key: str) -> int:
        got = [0]

        def on_body(chunk: bytes, offset: int, **_kw: Any) -> None:
            got[0] += len(chunk)
        await self._run("GET", key, on_body=on_body)
        return got[0]

    async def put_small(self, key: str) -> None:
        await self._run("PUT", key, io.BytesIO(SMALL), len(SMALL))

    async def get_small(self, key: str) -> None:
        await self._run("GET", key, on_body=lambda chunk, offset, **kw: None)


async def measure(cand, mib: int, small_ops: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    key = f"bench/{uuid.uuid4().hex}"
    t = time.perf_counter(); await cand.put_big(key, mib); put = mib * MiB / (time.perf_counter() - t) / 1e6
    t = time.perf_counter(); n = await cand.get_big(key); get = n / (time.perf_counter() - t) / 1e6
    assert n == mib * MiB
    t = time.perf_counter()
    for i in range(small_ops):
        await cand.put_small(f"{key}-s{i}")
    sput = small_ops / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(small_ops):
        await cand.get_small(f"{key}-s{i}")
    sget = small_ops / (time.perf_counter() - t)
    return {"put MB/s": put, "get MB/s": get, "4KiB put/s": sput, "4KiB get/s": sget}


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--mib", type=int, default=256)
    p.add_argument("--small-ops", type=int, default=300)
    p.add_argument("--bucket", default="kosha-bench-clients")
    a = p.parse_args()
    c = boto_client()
    try:
        c.create_bucket(Bucket=a.bucket)
    except c.exceptions.BucketAlreadyOwnedByYou:
        pass
    cands = [BotoThread(a.bucket), Obstore(a.bucket), Crt(a.bucket)]
    results: dict[str, list[dict[str, float]]] = {x.name: [] for x in cands}
    for _ in range(a.runs):
        for cand in cands:
            results[cand.name].append(await measure(cand, a.mib, a.small_ops))
    ref = {k: statistics.median(r[k] for r in results[cands[0].name]) for k in results[cands[0].name][0]}
    print(f"{a.mib} MiB streamed and {a.small_ops} x 4 KiB, one at a time; medians of {a.runs}")
    for name, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"{name:18s} " + "  ".join(f"{k} {v:8.1f} ({v / ref[k]:.2f}x)" for k, v in med.items()))


if __name__ == "__main__":
    asyncio.run(main())
