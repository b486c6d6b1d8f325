"""Threads writing one key while others read it (tests/test_read_races.py, tests/rgw/)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

READS = 150            # per reader thread
VERSIONS = 8           # distinct bodies the writers cycle through


def race(write: Callable[[int], None], read: Callable[[], Any], readers: int = 2,
          writers: int = 2) -> list[Any]:
    """Writers loop while `readers` threads call `read` READS times each; what they returned."""
    done = threading.Event()

    def keep_writing(seed: int) -> None:
        n = seed
        while not done.is_set():
            write(n)
            n += writers

    def read_all() -> list[Any]:
        return [read() for _ in range(READS)]

    with ThreadPoolExecutor(readers + writers) as pool:
        writing = [pool.submit(keep_writing, i) for i in range(writers)]
        try:
            results = [pool.submit(read_all) for _ in range(readers)]
            outcomes = [r for f in results for r in f.result()]
        finally:
            done.set()
        for f in writing:
            f.result()
    return outcomes


def s3_get(s3: Any, bucket: str, key: str, **kw: Any) -> tuple[int, str, bytes, int]:
    """(status, ETag, body, Content-Length) of a GET; a 4xx as its status, a 5xx raised."""
    try:
        got = s3.get_object(Bucket=bucket, Key=key, **kw)
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status < 500, exc.response
        return status, "", b"", 0
    return (got["ResponseMetadata"]["HTTPStatusCode"], got["ETag"].strip('"'),
            got["Body"].read(), got["ContentLength"])
