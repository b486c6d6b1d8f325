"""Moving bytes: uploads, downloads, multipart with resume, server-side copies; always streamed.

- Small files travel many to a request: one `multipart/form-data` PUT carries a batch of files
  (the part's file name is the key below the `prefix` field, '/' included), several batches in
  flight at once. Per-request overhead, not bytes, is what costs when copying many small files.
- Files of `part_size` or more use the REST multipart extension with `parallel` parts in flight.
  The upload's state (id, part size, source, size, mtime) is kept under
  `$XDG_CACHE_HOME/kosha/transfers/` until it completes, so re-running the same copy asks the
  server which parts it already has and sends only the others.
- Downloads write `<dest>.kosha-partial` and rename it when complete; a large one interrupted
  resumes with a Range request if the object's ETag is unchanged.
- Keys a form field cannot carry (quotes, backslashes, line breaks) go through the multipart
  extension as a single part.
- Remote to remote, in one bucket or across buckets, is the server's metadata copy or move.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import Api
from .config import cache_dir, read_json, write_private
from .errors import USAGE, ClientError
from .paths import Remote
from .progress import Progress, human

CHUNK = 1024 * 1024
MiB = 1024 * 1024
MIN_PART = 5 * MiB
MAX_PARTS = 10_000
BATCH_FILES = 64
BATCH_BYTES = 8 * MiB
RESUMABLE_DOWNLOAD = 8 * MiB
PARTIAL = ".kosha-partial"


class RateLimiter:
    """A token bucket shared by every thread of a transfer (`--limit-rate`)."""

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def consume(self, count: int) -> None:
        if not self.per_second:
            return
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now) + count / self.per_second
            delay = self._next - now - 0.25   # up to a quarter second of burst
        if delay > 0:
            time.sleep(delay)


@dataclass
class Transfer:
    """What every copy in one command shares: the client, the limits, the bar, the report."""
    api: Api
    progress: Progress
    limiter: RateLimiter
    parallel: int = 4
    part_size: int = 64 * MiB
    emit: Callable[[dict[str, Any]], None] = lambda event: None
    notice: Callable[[str], None] = lambda text: None
    files: int = 0
    bytes_moved: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Chunks passed on as they are, through the rate limit, onto the bar and the count."""
        for chunk in chunks:
            self.limiter.consume(len(chunk))
            yield chunk
            self.progress.advance(len(chunk))
            with self._lock:
                self.bytes_moved += len(chunk)

    def done(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.files += 1
        self.emit(event)


def _state_path(kind: str, *identity: str) -> Path:
    digest = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:40]
    return cache_dir() / "transfers" / f"{kind}-{digest}.json"


def file_chunks(path: Path, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
    with open(path, "rb") as source:
        source.seek(offset)
        left = length if length is not None else -1
        while left != 0:
            chunk = source.read(CHUNK if left < 0 else min(CHUNK, left))
            if not chunk:
                if left > 0:
                    raise ClientError(f"{path} shrank while it was being sent",
                                      "copy it again once it stops changing")
                return
            left -= len(chunk)
            yield chunk


def form_safe(name: str) -> bool:
    """Whether a Content-Disposition file name can carry this key unchanged."""
    return not any(c in name for c in '"\\\r\n') and name.isprintable()


# -- uploads --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    path: Path
    size: int
    remote: Remote


def upload_batch(t: Transfer, bucket: str, prefix: str, items: list[Upload]) -> None:
    """One form request with every file of `items` (keys all start with `prefix`)."""
    boundary = uuid.uuid4().hex
    heads = [(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"{item.remote.key[len(prefix):]}\"\r\n"
              f"Content-Type: application/octet-stream\r\n\r\n").encode() for item in items]
    opening = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"prefix\"\r\n\r\n"
               f"{prefix}\r\n").encode() if prefix else b""
    closing = f"--{boundary}--\r\n".encode()
    length = len(opening) + len(closing) + sum(len(h) + i.size + 2 for h, i in zip(heads, items))

    def body() -> Iterator[bytes]:
        yield opening
        for head, item in zip(heads, items):
            yield head
            yield from t.counted(file_chunks(item.path, 0, item.size))
            yield b"\r\n"
        yield closing

    t.api.upload_form(bucket, body, boundary, length, f"uploading to kos://{bucket}/{prefix}")
    for item in items:
        t.done({"action": "upload", "source": str(item.path), "destination": str(item.remote),
                "size": item.size})


def upload_multipart(t: Transfer, item: Upload) -> None:
    """A big file in parts, `t.parallel` at a time; resumes an upload this command began before."""
    stat = item.path.stat()
    part_size = max(t.part_size, MIN_PART, -(-stat.st_size // MAX_PARTS))
    count = max(1, -(-stat.st_size // part_size))
    state_file = _state_path("up", t.api.profile.endpoint, item.remote.bucket, item.remote.key,
                             str(item.path.resolve()))
    identity = {"bucket": item.remote.bucket, "key": item.remote.key, "source": str(item.path),
                "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "part_size": part_size}
    state = read_json(state_file)
    have: dict[int, dict[str, Any]] = {}
    upload_id = None
    if state and {k: state.get(k) for k in identity} == identity:
        parts = t.api.upload_parts(item.remote.bucket, state["upload_id"])
        if parts is not None:
            upload_id = state["upload_id"]
            have = {p["partNumber"]: p for p in parts
                    if p.get("size") == _part_length(p["partNumber"], part_size, stat.st_size)}
            t.notice(f"resuming: {len(have)} of {count} parts already uploaded")
    elif state.get("upload_id") and state.get("bucket") == item.remote.bucket:
        _abort_quietly(t.api, state["bucket"], state["upload_id"])   # the source has changed
    if upload_id is None:
        upload_id = t.api.start_upload(item.remote.bucket, item.remote.key)
        write_private(state_file, {**identity, "upload_id": upload_id})
    t.progress.advance(sum(p["size"] for p in have.values()))

    def send(number: int) -> None:
        offset = (number - 1) * part_size
        length = _part_length(number, part_size, stat.st_size)
        part = t.api.put_part(item.remote.bucket, upload_id, number,
                              lambda: t.counted(file_chunks(item.path, offset, length)), length)
        have[number] = {"partNumber": number, "etag": part["etag"], "size": length}

    missing = [n for n in range(1, count + 1) if n not in have]
    with Pipeline(t.parallel) as pipeline:
        for number in missing:
            pipeline.submit(send, number)
    answer = t.api.complete_upload(item.remote.bucket, upload_id,
                                   [have[n] for n in range(1, count + 1)])
    state_file.unlink(missing_ok=True)
    t.done({"action": "upload", "source": str(item.path), "destination": str(item.remote),
            "size": stat.st_size, "parts": count, "resumedParts": count - len(missing),
            "etag": answer.get("etag")})


def _abort_quietly(api: Api, bucket: str, upload_id: str) -> None:
    try:
        api.abort_upload(bucket, upload_id)
    except ClientError:
        pass   # gone already, or not ours to abort: the lifecycle rule collects it


def _part_length(number: int, part_size: int, total: int) -> int:
    return max(0, min(part_size, total - (number - 1) * part_size))


def upload_all(t: Transfer, uploads: Iterable[Upload]) -> None:
    """Every upload: big ones in parallel parts, one after another; small ones batched by
    folder prefix, `t.parallel` batches in flight (the planner walks lazily meanwhile)."""
    with Pipeline(t.parallel) as pipeline:
        batch: list[Upload] = []
        batch_prefix: tuple[str, str] | None = None
        batch_bytes = 0
        for item in uploads:
            t.progress.grow(item.size)
            if item.size >= t.part_size or not form_safe(item.remote.key):
                pipeline.drain()
                upload_multipart(t, item)
                continue
            prefix = (item.remote.bucket, _common_root(item.remote.key))
            if batch and (prefix != batch_prefix or len(batch) >= BATCH_FILES
                          or batch_bytes + item.size > BATCH_BYTES):
                pipeline.submit(upload_batch, t, batch_prefix[0], batch_prefix[1], batch)
                batch, batch_bytes = [], 0
            batch.append(item)
            batch_prefix = prefix
            batch_bytes += item.size
        if batch and batch_prefix is not None:
            pipeline.submit(upload_batch, t, batch_prefix[0], batch_prefix[1], batch)


def _common_root(key: str) -> str:
    """The batch's `prefix` field: the key's first folder (files under it share a request)."""
    head, slash, _rest = key.partition("/")
    return head + slash if slash else ""


class Pipeline:
    """A thread pool with at most `width` tasks in flight; the first failure is raised."""

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self.pool = ThreadPoolExecutor(max_workers=self.width)
        self.running: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        while len(self.running) >= self.width:
            self._collect()
        self.running.add(self.pool.submit(fn, *args))

    def drain(self) -> None:
        while self.running:
            self._collect()

    def _collect(self) -> None:
        finished, self.running = wait(self.running, return_when=FIRST_COMPLETED)
        for future in finished:
            future.result()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        drained = False
        try:
            if kind is None:
                self.drain()
                drained = True
        finally:   # a failure (or Ctrl-C) while draining must not wait for the rest either
            for future in self.running:
                future.cancel()
            self.pool.shutdown(wait=drained, cancel_futures=True)


# -- downloads ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    remote: Remote
    path: Path
    size: int
    etag: str | None


def download_file(t: Transfer, item: Download) -> None:
    """Into `<path>.kosha-partial`, renamed when whole; large ones resume when the ETag holds."""
    partial = item.path.with_name(item.path.name + PARTIAL)
    item.path.parent.mkdir(parents=True, exist_ok=True)
    resumable = item.size >= RESUMABLE_DOWNLOAD and item.etag is not None
    state_file = _state_path("down", t.api.profile.endpoint, item.remote.bucket, item.remote.key,
                             str(item.path.resolve()))
    start = 0
    if resumable:
        state = read_json(state_file)
        if state.get("etag") == item.etag and partial.exists() \
                and partial.stat().st_size <= item.size:
            start = partial.stat().st_size
            t.notice(f"resuming: {human(start)} of {human(item.size)} already downloaded")
        else:
            write_private(state_file, {"etag": item.etag, "size": item.size,
                                       "source": str(item.remote), "dest": str(item.path)})
    t.progress.advance(start)
    response = t.api.open_download(item.remote.bucket, item.remote.key, start) \
        if start < item.size or not resumable else None
    try:
        if response is not None and start and (response.status_code != 206
                                               or response.headers.get("etag") != item.etag):
            t.notice("the object changed since the interrupted download: starting over")
            if response.status_code == 206:
                response.close()
                response = t.api.open_download(item.remote.bucket, item.remote.key)
            start = 0
        with open(partial, "r+b" if start else "wb") as out:
            out.seek(start)
            out.truncate()
            if response is not None:
                for chunk in t.counted(response.iter_raw()):
                    out.write(chunk)
    finally:
        if response is not None:
            response.close()
    written = partial.stat().st_size
    if resumable and written != item.size:
        raise ClientError(f"kos://{item.remote.bucket}/{item.remote.key} ended after {written} "
                          f"of {item.size} bytes", "run the same command again to resume")
    os.replace(partial, item.path)
    state_file.unlink(missing_ok=True)
    t.done({"action": "download", "source": str(item.remote), "destination": str(item.path),
            "size": written, "resumedBytes": start})


def download_all(t: Transfer, downloads: Iterable[Download]) -> None:
    with Pipeline(t.parallel * 2) as pipeline:
        for item in downloads:
            t.progress.grow(item.size)
            pipeline.submit(download_file, t, item)


def safe_local(root: Path, relative: str) -> Path:
    """`root/relative` for a key's remainder, refusing a key that would climb out of `root`."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if ".." in parts or not parts:
        raise ClientError(f"the key part {relative!r} does not name a file inside {root}",
                          "copy that object on its own to a path you choose", USAGE)
    return root.joinpath(*parts)


# -- remote to remote -----------------------------------------------------------------------

def server_copy(t: Transfer, source: Remote, destination: Remote, size: int, action: str) -> None:
    """The server copies or moves, within a bucket or across buckets: metadata only, no bytes
    through the client, whatever the size."""
    t.api.move(source.bucket, source.key, destination.bucket, destination.key, action)
    t.progress.advance(size)
    t.done({"action": "copy" if action == "copy" else "move", "source": str(source),
            "destination": str(destination), "size": size})


def copy_all(t: Transfer, pairs: Iterable[tuple[Remote, Remote, int]], action: str) -> None:
    with Pipeline(t.parallel * 2) as pipeline:
        for source, destination, size in pairs:
            t.progress.grow(size)
            pipeline.submit(server_copy, t, source, destination, size, action)
