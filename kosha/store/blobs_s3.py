"""Blobs in an S3-compatible cluster (Ceph RGW, MinIO, AWS): one object `<prefix><blob id>` each.

The client is obstore (Rust `object_store`), chosen by measuring it against boto3 in threads
(bench/blob_clients.py, docs/benchmarks.md). A writer streams: each 1 MiB batch is handed to
obstore's buffered writer, which sends a single PUT for a blob smaller than `PART` and otherwise
a multipart upload whose parts go out as they fill, and is hashed in a thread meanwhile. Memory
per upload is bounded: the part being filled and at most CONCURRENCY parts in flight, plus the
batch being received and the one being hashed: `PART × (CONCURRENCY + 1) + 2 × CHUNK` (82 MiB).
`commit` returns only once the cluster acknowledged the whole
blob (PUT or CompleteMultipartUpload answered), so the version row that follows never points at
bytes the cluster does not hold. An abort abandons the multipart upload; uploads a crash left
behind are aborted by garbage collection (`clean_tmp`, see blobs_s3_uploads.py).

Blobs are immutable and named by generated ids, so copies stay metadata-only (blob_refs.py) and
nothing here depends on the user's keys. The local disk reserve does not apply: `check_room`
is a no-op, the cluster enforces its own quotas.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import timedelta
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from ..errors import Unavailable
from .blob_location import S3Credentials, S3Location
from .blobs import CHUNK, BlobInfo, BlobReader, ChunkedBlobWriter, Hasher, read_opened

log = logging.getLogger("kosha.store")

PART = 16 * 1024 * 1024     # multipart part size; measured in docs/benchmarks.md
CONCURRENCY = 4             # parts of one upload in flight
_BLOB_ID = re.compile(r"^[0-9a-f]{32}$")
# obstore raises its own errors, and the built-in FileNotFoundError for a missing object.
_FAILED = (BaseError, OSError)


def unavailable(exc: BaseException) -> Unavailable:
    """The domain error for a failed call to the cluster (detail logged, never the keys)."""
    log.warning("blob store call failed: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:300]
                if str(exc) else "")
    return Unavailable(f"the blob store cannot be used now ({type(exc).__name__}); retry later")


class S3BlobWriter(ChunkedBlobWriter):
    """Each batch is joined into one buffer, handed to obstore's writer on the event loop (it keeps
    the bytes by reference and uploads the parts from its own threads, at most CONCURRENCY at once:
    a write waits only while that many are in flight), then hashed in the I/O thread while the
    event loop receives the next batch (the lane). One buffer per batch, not one per received
    piece (uvloop reads 256,000 bytes at a time): one call into obstore's runtime, and one
    wake-up of the loop when it answers, per MiB rather than five; the join (a copy of the MiB,
    made on the loop) costs less than the four calls it saves (docs/benchmarks.md)."""

    def __init__(self, store: S3BlobStore, hashers: Iterable[Hasher]) -> None:
        super().__init__(hashers)
        self.store = store
        self._upload: Any = None

    async def _consume(self, chunks: list[bytes | memoryview]) -> None:
        batch = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            if self._upload is None:
                self._upload = obstore.open_writer_async(
                    self.store.client, self.store.key(self.blob_id), buffer_size=PART,
                    max_concurrency=CONCURRENCY)
            await self._upload.write(batch)
        except _FAILED as exc:
            raise unavailable(exc) from exc
        await self._lane.submit(self._hash, [batch])

    async def commit(self) -> BlobInfo:
        """Returns once the cluster holds the whole blob (PUT or CompleteMultipartUpload answered)."""
        await self._flush()
        await self._lane.drain()
        try:
            if self._upload is None:   # an empty blob
                await obstore.put_async(self.store.client, self.store.key(self.blob_id), b"")
            else:
                await self._upload.close()
        except _FAILED as exc:
            raise unavailable(exc) from exc
        return self._info()

    async def abort(self) -> None:
        """Abandon the upload: leaving the writer's context with an error aborts it."""
        await self._lane.settle()
        upload, self._upload = self._upload, None
        if upload is not None:
            try:
                await upload.__aexit__(RuntimeError, RuntimeError("aborted"), None)
            except Exception as exc:   # garbage collection aborts what is left
                log.info("aborting a blob upload failed: %s", type(exc).__name__)


class S3BlobStore:
    def __init__(self, location: S3Location, credentials: S3Credentials) -> None:
        self.location = location
        self._credentials = credentials
        self._client: S3Store | None = None
        self._pid = 0
        _ = self.client   # a configuration mistake shows at start, not at the first upload

    def __repr__(self) -> str:
        return f"S3BlobStore({self.location.display})"

    @property
    def client(self) -> S3Store:
        """The obstore client, made in the process that uses it (its runtime does not survive a fork)."""
        if self._client is None or self._pid != os.getpid():
            loc, cred = self.location, self._credentials
            config: dict[str, Any] = {"access_key_id": cred.access_key,
                                      "secret_access_key": cred.secret_key, "region": loc.region,
                                      "virtual_hosted_style_request": loc.virtual_hosted}
            if cred.session_token:
                config["session_token"] = cred.session_token
            if loc.endpoint:
                config["endpoint"] = loc.endpoint
            if loc.unsigned_payload:   # no SHA-256 pass here nor in the cluster (blob_location.py)
                config["unsigned_payload"] = True
            if loc.checksum != "none":
                config["checksum_algorithm"] = loc.checksum
            self._client = S3Store(loc.bucket, config=config,  # type: ignore[arg-type]
                                   client_options={"allow_http": True, "timeout": "300s",
                                                   "connect_timeout": "10s"},
                                   retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=30),
                                                 "backoff": {"init_backoff": timedelta(milliseconds=100),
                                                             "max_backoff": timedelta(seconds=2),
                                                             "base": 2.0}})
            self._pid = os.getpid()
        return self._client

    def key(self, blob_id: str) -> str:
        if not _BLOB_ID.match(blob_id):
            raise ValueError("malformed blob id")
        return self.location.prefix + blob_id

    def check_room(self) -> None:
        """Nothing to check here: the cluster enforces its own capacity and quotas."""

    def probe(self) -> None:
        """Raise Unavailable unless the cluster answers for the bucket (readiness)."""
        try:
            obstore.head(self.client, self.location.prefix + "kosha-readiness-probe")
        except FileNotFoundError:
            return
        except _FAILED as exc:
            raise unavailable(exc) from exc

    def open_writer(self, hashers: Iterable[Hasher] = ()) -> S3BlobWriter:
        return S3BlobWriter(self, hashers)

    def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive) of a blob: one ranged GET, streamed in ~1 MiB chunks."""
        return read_opened(self.open_read, blob_id, start, end)

    async def open_read(self, blob_id: str, start: int = 0, end: int | None = None) -> BlobReader:
        """Send the ranged GET now, stream its body later (the cluster answers a GET it began
        from the object it found). FileNotFoundError if the blob is gone."""
        if end is not None and end <= start:
            return _chunks(None)
        byte_range: Any = (start, end) if end is not None else {"offset": start}
        try:
            answer = await obstore.get_async(self.client, self.key(blob_id),
                                             options={"range": byte_range})
        except FileNotFoundError:
            raise   # a referenced blob is missing: not a fault to wait out
        except _FAILED as exc:
            raise unavailable(exc) from exc
        return _chunks(answer)

    async def delete(self, blob_ids: Iterable[str]) -> None:
        keys = [self.key(b) for b in blob_ids]
        if keys:
            try:
                await obstore.delete_async(self.client, keys)
            except FileNotFoundError:
                pass
            except _FAILED as exc:
                raise unavailable(exc) from exc

    def delete_sync(self, blob_ids: Iterable[str]) -> None:
        keys = [self.key(b) for b in blob_ids]
        for i in range(0, len(keys), 1000):
            try:
                obstore.delete(self.client, keys[i:i + 1000])
            except FileNotFoundError:
                pass
            except _FAILED as exc:
                raise unavailable(exc) from exc

    def list_ids(self) -> Iterator[tuple[str, float]]:
        """Every blob under the prefix with its upload time, for garbage collection.

        Names that are not blob ids (anything else an operator keeps there) are never listed,
        so garbage collection cannot delete them.
        """
        prefix = self.location.prefix
        try:
            for batch in obstore.list(self.client, prefix or None, chunk_size=1000):
                for meta in batch:
                    name = meta["path"][len(prefix):]
                    if _BLOB_ID.match(name):
                        yield name, meta["last_modified"].timestamp()
        except _FAILED as exc:
            raise unavailable(exc) from exc

    def read_mark(self, name: str) -> str | None:
        """A small text object `<prefix><name>` (blob_owner.py), or None."""
        try:
            return bytes(obstore.get(self.client, self.location.prefix + name).bytes()).decode().strip()
        except FileNotFoundError:
            return None
        except _FAILED as exc:
            raise unavailable(exc) from exc

    def write_mark(self, name: str, text: str) -> None:
        try:
            obstore.put(self.client, self.location.prefix + name, text.encode())
        except _FAILED as exc:
            raise unavailable(exc) from exc

    def clean_tmp(self, older_than: float) -> int:
        """Abort multipart uploads under the prefix begun before `older_than` (a crash mid-upload)."""
        from .blobs_s3_uploads import abort_stale_uploads
        try:
            return abort_stale_uploads(self.location, self._credentials, older_than)
        except Exception as exc:   # the next run tries again
            log.warning("listing unfinished blob uploads failed: %s", type(exc).__name__)
            return 0


async def _chunks(answer: Any) -> AsyncIterator[bytes]:
    """The body of a GET already answered, in ~1 MiB chunks (nothing for None)."""
    if answer is None:
        return
    try:
        async for chunk in answer.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)
    except _FAILED as exc:
        raise unavailable(exc) from exc
