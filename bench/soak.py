"""Soak: 16 clients of mixed KOS REST and S3 traffic against a fresh `kosha serve`, then checks.

Not a test: a run of ten minutes (--minutes) on a machine that is otherwise quiet; --quick is a
one-minute smoke. Each client owns a key prefix in one of four shared buckets and keeps a ledger
of what the server acknowledged, so that every answer can be judged exactly:

  traffic  small objects (0-200 KiB, inline and blob) over REST and S3; 64 MiB objects over
           both; S3 multipart uploads (5+5+1 MiB); S3 copies, REST copies and moves; REST and S3
           deletes; listings of the client's prefix compared with its ledger; reads checked
           against the ledger's MD5; uploads (REST and pre-signed S3) cut off mid-body, some
           of them over an existing key
  checks   0 errors besides the injected disconnects; every acknowledged object reads back with
           its MD5 and nothing else is listed; usedCapacity of each bucket equals the sizes its
           listing shows; no multipart upload left open; after a clean stop and `kosha gc`, no
           temporary file and no blob file that the database does not reference (nor a
           referenced one missing); the server's RSS and open file descriptors at the end within
           10 % of the values after warm-up (both measured with the clients paused, 3 s idle;
           warm-up: each client has run every kind of operation and a quarter of the run passed)

    python bench/soak.py [--minutes 10] [--clients 16] [--quick] [--keep] [--json FILE]

Prints a summary with the figures and PASS/MISS per check; exits 1 on a MISS.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import MiB  # noqa: E402

import boto3  # noqa: E402
import httpx  # noqa: E402
from botocore.config import Config  # noqa: E402

API = "/kos/v1"
REGION = "In-Bangalore-1"
BUCKETS = 4
BIG = 64 * MiB
PART = 5 * MiB
MAX_KEYS_PER_CLIENT = 150
BOUNDARY = "koshasoak7f3e9a1b2c4d5e6f"
TOLERANCE = 0.10
WARM_UP_SHARE = 0.25


# --------------------------------------------------------------------------- bodies

def small_body(rng: random.Random) -> bytes:
    size = rng.choice([0, 1, rng.randrange(2, 4096), rng.randrange(4096, 64 * 1024),
                       rng.randrange(64 * 1024, 200 * 1024)])
    return rng.randbytes(size)


def big_chunks(salt: bytes, size: int) -> Iterator[bytes | memoryview]:
    """`size` bytes: a 16-byte salt (so that every big object differs), then the 1 MiB pattern."""
    yield salt
    yield from common.pattern_chunks(size - len(salt))


def md5_of(chunks: Iterator[bytes | memoryview]) -> str:
    digest = hashlib.md5()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def form_envelope(key: str) -> tuple[bytes, bytes]:
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{key}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


# --------------------------------------------------------------------------- a client

@dataclass
class Ledger:
    """What the server acknowledged under one client's prefix: key -> (md5, size)."""
    objects: dict[str, tuple[str, int]] = field(default_factory=dict)


class Failure(Exception):
    pass


class Client(threading.Thread):
    def __init__(self, run: "Soak", index: int) -> None:
        super().__init__(name=f"client-{index:02d}", daemon=True)
        self.run_ = run
        self.index = index
        self.rng = random.Random(index * 7919 + int(time.time()))
        self.bucket = run.buckets[index % BUCKETS]
        self.prefix = f"c{index:02d}/"
        self.ledger = Ledger()
        self.ops: Counter[str] = Counter()
        self.errors: list[str] = []
        self.disconnects = 0
        self.bytes_up = self.bytes_down = 0
        self.serial = 0
        self.busy = False
        self.rest = httpx.Client(base_url=run.kos_url, timeout=600,
                                 headers={"Authorization": f"Bearer {run.token}"})
        self.s3 = run.s3_client()

    # -- helpers --------------------------------------------------------------------------
    def new_key(self) -> str:
        self.serial += 1
        return f"{self.prefix}k{self.serial:06d}"

    def some_key(self) -> str | None:
        return self.rng.choice(list(self.ledger.objects)) if self.ledger.objects else None

    def expect(self, what: str, ok: bool, detail: Any = "") -> None:
        if not ok:
            raise Failure(f"{what}: {str(detail)[:300]}")

    # -- operations -----------------------------------------------------------------------
    def rest_put_small(self) -> None:
        key, data = self.new_key(), small_body(self.rng)
        head, tail = form_envelope(key)
        response = self.rest.put(f"{API}/buckets/{self.bucket}/objects", content=head + data + tail,
                                 headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        self.expect("REST upload", response.status_code == 201, response.text)
        self.ledger.objects[key] = (hashlib.md5(data).hexdigest(), len(data))
        self.bytes_up += len(data)

    def s3_put_small(self) -> None:
        key, data = self.new_key(), small_body(self.rng)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        self.ledger.objects[key] = (hashlib.md5(data).hexdigest(), len(data))
        self.bytes_up += len(data)

    def rest_put_big(self) -> None:
        key, salt = self.new_key(), self.rng.randbytes(16)
        head, tail = form_envelope(key)

        def body() -> Iterator[bytes | memoryview]:
            yield head
            yield from big_chunks(salt, BIG)
            yield tail

        transfer = common.stream_upload(
            f"{self.run_.kos_url}{API}/buckets/{self.bucket}/objects", body(), len(head) + BIG + len(tail),
            headers={"Authorization": f"Bearer {self.run_.token}",
                     "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
        self.expect("REST 64 MiB upload", transfer.status == 201, transfer.body)
        self.ledger.objects[key] = (md5_of(big_chunks(salt, BIG)), BIG)
        self.bytes_up += BIG

    def s3_put_big(self) -> None:
        key, salt = self.new_key(), self.rng.randbytes(16)
        url = self.s3.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": key},
                                             ExpiresIn=3600)
        transfer = common.stream_upload(url, big_chunks(salt, BIG), BIG)
        self.expect("S3 64 MiB pre-signed PUT", transfer.status == 200, transfer.body)
        self.ledger.objects[key] = (md5_of(big_chunks(salt, BIG)), BIG)
        self.bytes_up += BIG

    def s3_multipart(self) -> None:
        key = self.new_key()
        parts = [self.rng.randbytes(PART), self.rng.randbytes(PART), self.rng.randbytes(MiB)]
        upload = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        done = []
        for number, data in enumerate(parts, 1):
            etag = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                                       Body=data)["ETag"]
            done.append({"PartNumber": number, "ETag": etag})
        if self.rng.random() < 0.2:  # some are abandoned: aborted, and must leave nothing
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            return
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                          MultipartUpload={"Parts": done})
        whole = b"".join(parts)
        self.ledger.objects[key] = (hashlib.md5(whole).hexdigest(), len(whole))
        self.bytes_up += len(whole)

    def rest_read(self) -> None:
        key = self.some_key()
        if key is None:
            return
        md5, size = self.ledger.objects[key]
        digest, n = hashlib.md5(), 0
        with self.rest.stream("POST", f"{API}/buckets/{self.bucket}/objects/download",
                              json={"objectkey": key}, headers={"Accept": "application/octet-stream"}) as r:
            self.expect(f"REST download {key}", r.status_code == 200, r.read() if r.status_code != 200 else "")
            for chunk in r.iter_bytes(MiB):
                digest.update(chunk)
                n += len(chunk)
        self.expect(f"REST download {key} MD5", (digest.hexdigest(), n) == (md5, size), (n, size))
        self.bytes_down += n

    def s3_read(self) -> None:
        key = self.some_key()
        if key is None:
            return
        md5, size = self.ledger.objects[key]
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        digest, n = hashlib.md5(), 0
        for chunk in body.iter_chunks(MiB):
            digest.update(chunk)
            n += len(chunk)
        self.expect(f"S3 GET {key} MD5", (digest.hexdigest(), n) == (md5, size), (n, size))
        self.bytes_down += n

    def s3_list(self) -> None:
        listed: dict[str, int] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        expected = {k: size for k, (_, size) in self.ledger.objects.items()}
        self.expect("S3 listing equals the ledger", listed == expected, _diff(listed, expected))

    def rest_list(self) -> None:
        listed: dict[str, int] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"prefix": self.prefix, "max_keys": 100}
            if token:
                params["continuation_token"] = token
            response = self.rest.get(f"{API}/buckets/{self.bucket}/objects", params=params)
            self.expect("REST listing", response.status_code == 200, response.text)
            page = response.json()
            for item in page.get("objects", page.get("items", [])):
                key = item.get("key") or item.get("objectKey") or item.get("name")
                listed[key] = int(item.get("size_bytes", item.get("size", 0)))
            token = page.get("nextContinuationToken")
            if not page.get("isTruncated") or not token:
                break
        expected = {k: size for k, (_, size) in self.ledger.objects.items()}
        self.expect("REST listing equals the ledger", listed == expected, _diff(listed, expected))

    def s3_copy(self) -> None:
        key = self.some_key()
        if key is None:
            return
        target = self.new_key()
        self.s3.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": key})
        self.ledger.objects[target] = self.ledger.objects[key]

    def rest_copy_or_move(self) -> None:
        key = self.some_key()
        if key is None:
            return
        target, action = self.new_key(), self.rng.choice(["copy", "move"])
        response = self.rest.post(f"{API}/buckets/{self.bucket}/objects/move",
                                  json={"sourceKey": key, "destinationKey": target, "action": action})
        self.expect(f"REST {action}", response.status_code == 200, response.text)
        self.ledger.objects[target] = self.ledger.objects[key]
        if action == "move":
            del self.ledger.objects[key]

    def rest_delete(self) -> None:
        key = self.some_key()
        if key is None:
            return
        response = self.rest.post(f"{API}/buckets/{self.bucket}/objects/delete", json={"objectkey": key})
        self.expect("REST delete", response.status_code == 200, response.text)
        del self.ledger.objects[key]

    def s3_delete(self) -> None:
        key = self.some_key()
        if key is None:
            return
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        del self.ledger.objects[key]

    def disconnect_mid_body(self) -> None:
        """An upload cut off half-way, over REST or a pre-signed S3 PUT, sometimes over an
        existing key (which must keep its old bytes). Not acknowledged, so not in the ledger."""
        key = self.some_key() if self.rng.random() < 0.5 else None
        key = key or self.new_key()
        size = self.rng.choice([200 * 1024, 8 * MiB, BIG])
        sent = self.rng.randrange(1, size)
        if self.rng.random() < 0.5:
            head, tail = form_envelope(key)
            url = f"{self.run_.kos_url}{API}/buckets/{self.bucket}/objects"
            headers = {"Authorization": f"Bearer {self.run_.token}",
                       "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
            prefix, length = head, len(head) + size + len(tail)
        else:
            url = self.s3.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": key},
                                                 ExpiresIn=3600)
            headers, prefix, length = {}, b"", size
        cut_off(url, headers, prefix, length, sent)
        self.disconnects += 1

    # -- the loop -------------------------------------------------------------------------
    def choose(self) -> Callable[[], None]:
        many = len(self.ledger.objects) >= MAX_KEYS_PER_CLIENT
        table: list[tuple[Callable[[], None], float]] = [
            (self.rest_put_small, 0 if many else 20), (self.s3_put_small, 0 if many else 14),
            (self.rest_read, 10), (self.s3_read, 10), (self.s3_list, 4), (self.rest_list, 4),
            (self.s3_copy, 0 if many else 4), (self.rest_copy_or_move, 0 if many else 4),
            (self.rest_delete, 20 if many else 6), (self.s3_delete, 20 if many else 6),
            (self.s3_multipart, 0 if many else 2), (self.rest_put_big, 0 if many else 0.6),
            (self.s3_put_big, 0 if many else 0.6), (self.disconnect_mid_body, 2),
        ]
        return self.rng.choices([f for f, _ in table], [w for _, w in table])[0]

    def warm_up(self) -> None:
        """One of each kind first, so that every path has run before the baseline is taken."""
        for op in (self.rest_put_small, self.s3_put_small, self.rest_put_big, self.s3_put_big,
                   self.s3_multipart, self.rest_read, self.s3_read, self.s3_list, self.rest_list,
                   self.s3_copy, self.rest_copy_or_move, self.disconnect_mid_body, self.rest_delete,
                   self.s3_delete):
            self.step(op)

    def step(self, op: Callable[[], None]) -> None:
        self.busy = True
        try:
            op()
            self.ops[op.__name__] += 1
        except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
            self.ops[op.__name__ + " (failed)"] += 1
            self.errors.append(f"{op.__name__}: {type(exc).__name__}: {str(exc)[:400]}")
        finally:
            self.busy = False

    def run(self) -> None:
        try:
            self.run_.started.wait()
            self.warm_up()
            self.run_.warm.wait_ready(self)
            while not self.run_.stop.is_set():
                self.run_.gate.wait()
                self.step(self.choose())
        except Exception:  # noqa: BLE001
            self.errors.append("client crashed: " + traceback.format_exc()[-800:])
        finally:
            self.run_.warm.leave(self)
            self.rest.close()


def _diff(listed: dict[str, int], expected: dict[str, int]) -> str:
    extra = sorted(set(listed) - set(expected))[:5]
    missing = sorted(set(expected) - set(listed))[:5]
    sizes = [k for k in set(listed) & set(expected) if listed[k] != expected[k]][:5]
    return f"listed but not acknowledged {extra}, acknowledged but not listed {missing}, sizes differ {sizes}"


def cut_off(url: str, headers: dict[str, str], prefix: bytes, length: int, sent: int) -> None:
    """Sends the request line, headers and `sent` bytes of a `length`-byte body, then closes."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        lines = [f"PUT {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {length}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + prefix)
        left = max(0, sent - len(prefix))
        for chunk in common.pattern_chunks(left) if left else ():
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_RDWR)


class WarmBarrier:
    """Clients report when their warm-up is done; the conductor waits for all of them."""

    def __init__(self, clients: int) -> None:
        self.pending = clients
        self.done = threading.Condition()

    def wait_ready(self, _client: Client) -> None:
        with self.done:
            self.pending -= 1
            self.done.notify_all()

    def leave(self, _client: Client) -> None:
        pass

    def wait(self, timeout: float) -> bool:
        with self.done:
            return self.done.wait_for(lambda: self.pending <= 0, timeout)


# --------------------------------------------------------------------------- the run

class Soak:
    def __init__(self, kp: common.KoshaProc, clients: int) -> None:
        self.kp = kp
        self.kos_url, self.s3_url = kp.kos_url, kp.s3_url
        self.token = ""
        self.buckets = [f"soak-{i}-{os.urandom(3).hex()}" for i in range(BUCKETS)]
        self.started, self.stop, self.gate = threading.Event(), threading.Event(), threading.Event()
        self.gate.set()
        self.warm = WarmBarrier(clients)
        self.n_clients = clients

    def s3_client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.s3_url, region_name=REGION,
                            aws_access_key_id=self.kp.access_key, aws_secret_access_key=self.kp.secret_key,
                            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                          retries={"max_attempts": 1}, max_pool_connections=4,
                                          read_timeout=600, connect_timeout=30))

    def setup(self) -> None:
        status, body = common.http_json("POST", f"{self.kos_url}{API}/sessions/activate",
                                        {"accessKey": self.kp.access_key, "secretKey": self.kp.secret_key})
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"activate -> {status}: {body}")
        self.token = str(body["sessionToken"])
        for name in self.buckets:
            status, body = common.http_json("POST", f"{self.kos_url}{API}/buckets",
                                            {"name": name, "region": REGION},
                                            {"Authorization": f"Bearer {self.token}"})
            if status != 201:
                raise RuntimeError(f"create bucket -> {status}: {body}")

    def pause(self) -> None:
        """Clients stop between operations; wait for what is in flight, then a quiet moment."""
        self.gate.clear()
        time.sleep(3)


def sample(pid: int) -> tuple[float, int]:
    """(RSS MiB, open fds) of the server's process tree."""
    pids = common.proc_tree(pid)
    fds = 0
    for p in pids:
        try:
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return common.rss_kib(pids) / 1024, fds


def wait_in_flight(clients: list[Client], seconds: float) -> None:
    """Until every client is between operations (held at the gate) or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(c.busy for c in clients):
        time.sleep(0.2)


# --------------------------------------------------------------------------- checks

@dataclass
class Check:
    name: str
    ok: bool
    figure: str


def verify_objects(soak: Soak, clients: list[Client]) -> Check:
    s3 = soak.s3_client()
    bad: list[str] = []
    count = 0
    for client in clients:
        for key, (md5, size) in client.ledger.objects.items():
            count += 1
            try:
                body = s3.get_object(Bucket=client.bucket, Key=key)["Body"]
                digest, n = hashlib.md5(), 0
                for chunk in body.iter_chunks(MiB):
                    digest.update(chunk)
                    n += len(chunk)
                if (digest.hexdigest(), n) != (md5, size):
                    bad.append(f"{client.bucket}/{key}: {n} B, MD5 {digest.hexdigest()} != {md5}")
            except Exception as exc:  # noqa: BLE001
                bad.append(f"{client.bucket}/{key}: {exc}")
        listed: dict[str, int] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=client.bucket, Prefix=client.prefix):
            listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        expected = {k: size for k, (_, size) in client.ledger.objects.items()}
        if listed != expected:
            bad.append(f"{client.bucket}/{client.prefix}: {_diff(listed, expected)}")
    return Check("every acknowledged object reads back with its MD5, nothing else listed", not bad,
                 f"{count} objects, {len(bad)} bad" + (f": {bad[:5]}" if bad else ""))


def verify_capacity(soak: Soak) -> Check:
    s3 = soak.s3_client()
    details, ok = [], True
    for name in soak.buckets:
        listed = sum(o["Size"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name)
                     for o in page.get("Contents", []))
        status, body = common.http_json("GET", f"{soak.kos_url}{API}/buckets/{name}", None,
                                        {"Authorization": f"Bearer {soak.token}"})
        used = body.get("usedCapacity") if isinstance(body, dict) else None
        uploads = s3.list_multipart_uploads(Bucket=name).get("Uploads", [])
        ok = ok and status == 200 and used == listed and not uploads
        details.append(f"{name}: used {used} listed {listed}" + (f", {len(uploads)} uploads open" if uploads else ""))
    return Check("usedCapacity equals the listed sizes; no upload left open", ok, "; ".join(details))


def verify_files(data_dir: Path) -> tuple[Check, str]:
    """After a clean stop and `kosha gc`: temporary files, orphan and missing blobs."""
    gc = subprocess.run([common.PY, "-m", "kosha", "gc", "--data", str(data_dir)], cwd=common.REPO,
                        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(common.REPO)})
    blobs_dir = data_dir / "blobs"
    tmp = sorted(p.name for p in (blobs_dir / "tmp").iterdir()) if (blobs_dir / "tmp").exists() else []
    on_disk = {entry.name for sub in blobs_dir.iterdir() if sub.is_dir() and sub.name != "tmp"
               for entry in os.scandir(sub)}
    with sqlite3.connect(f"file:{data_dir / 'kosha.db'}?mode=ro", uri=True) as db:
        known = {row[0] for row in db.execute("SELECT blob_id FROM blobs")}
    orphans, missing = on_disk - known, known - on_disk
    ok = not tmp and not orphans and not missing
    figure = (f"{len(on_disk)} blob files, {len(known)} referenced; temporary files {len(tmp)}, "
              f"orphans {len(orphans)}, missing {len(missing)}"
              + (f" (e.g. tmp {tmp[:3]}, orphans {sorted(orphans)[:3]}, missing {sorted(missing)[:3]})"
                 if not ok else ""))
    gc_said = (gc.stdout.strip() or gc.stderr.strip()[-300:]).replace("\n", " ")
    return Check("no temporary file, no orphan or missing blob after a clean stop and kosha gc", ok, figure), gc_said


def within(label: str, start: float, end: float, unit: str) -> Check:
    drift = (end - start) / start if start else 0.0
    return Check(f"{label} at the end within 10 % of after warm-up", abs(drift) <= TOLERANCE,
                 f"{start:.1f} -> {end:.1f} {unit} ({drift:+.1%})")


# --------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="traffic time, warm-up included")
    parser.add_argument("--quick", action="store_true", help="a one-minute smoke (sets --minutes 1)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tmp", default=None, help="scratch dir (default bench/results/tmp/...)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and the log")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    minutes = 1.0 if args.quick else args.minutes
    args.runs, args.max_wait = 1, 0
    common.banner(f"Soak: {args.clients} clients, {minutes:g} min of mixed REST and S3 traffic")
    with common.scratch_dir(args, "soak-") as scratch:
        kp = common.kosha_server(scratch / "data", scratch, "kosha-soak")
        kp.server.start()
        try:
            result = soak(kp, args.clients, minutes)
        finally:
            kp.server.stop()
        files, gc_said = verify_files(kp.data_dir)
        result["checks"].append(files)
        result["gc"] = gc_said
        errors_in_log = [line for line in kp.server.log_path.read_text(errors="replace").splitlines()
                         if " ERROR " in line or line.startswith("Traceback")]
        result["log_errors"] = errors_in_log
        return report(result, args)


def soak(kp: common.KoshaProc, n_clients: int, minutes: float) -> dict[str, Any]:
    run = Soak(kp, n_clients)
    run.setup()
    clients = [Client(run, i) for i in range(n_clients)]
    for client in clients:
        client.start()
    t0 = time.monotonic()
    run.started.set()
    # Warm-up: every client has done each kind of operation once, and a quarter of the run has
    # passed, so that the bounded caches (the metadata memo holds 4096 rows with up to 8 KiB of
    # bytes each) have filled before the baseline is taken.
    warm_for = max(15.0, minutes * 60 * WARM_UP_SHARE)
    if not run.warm.wait(max(120.0, warm_for * 4)):
        print("   !! warm-up did not finish; measuring anyway", flush=True)
    time.sleep(max(0.0, t0 + warm_for - time.monotonic()))
    warm_seconds = time.monotonic() - t0
    run.pause()
    wait_in_flight(clients, 120)
    time.sleep(3)
    rss0, fds0 = sample(kp.server.pid)
    print(f"   warm-up done after {warm_seconds:.0f} s: server RSS {rss0:.1f} MiB, {fds0} fds", flush=True)
    run.gate.set()
    deadline = t0 + minutes * 60
    while time.monotonic() < deadline:
        time.sleep(min(30.0, max(0.1, deadline - time.monotonic())))
        rss, fds = sample(kp.server.pid)
        done = sum(sum(c.ops.values()) for c in clients)
        print(f"   {time.monotonic() - t0:5.0f} s: {done} operations, RSS {rss:.1f} MiB, {fds} fds", flush=True)
    elapsed = time.monotonic() - t0
    run.pause()  # measured as after warm-up: clients connected, held between operations
    wait_in_flight(clients, 300)
    time.sleep(3)
    rss1, fds1 = sample(kp.server.pid)
    run.stop.set()
    run.gate.set()
    for client in clients:
        client.join(timeout=600)
    ops: Counter[str] = Counter()
    for client in clients:
        ops.update(client.ops)
    errors = [e for c in clients for e in c.errors]
    checks = [
        Check("no error besides the injected disconnects", not errors,
              f"{len(errors)} errors" + (f": {errors[:5]}" if errors else "")),
        verify_objects(run, clients),
        verify_capacity(run),
        within("server RSS", rss0, rss1, "MiB"),
        within("server open file descriptors", fds0, fds1, "fds"),
    ]
    return {"minutes": minutes, "clients": n_clients, "elapsed_s": elapsed, "warm_up_s": warm_seconds,
            "operations": dict(sorted(ops.items())), "total_operations": sum(ops.values()),
            "disconnects": sum(c.disconnects for c in clients),
            "bytes_up": sum(c.bytes_up for c in clients), "bytes_down": sum(c.bytes_down for c in clients),
            "rss_mib": [rss0, rss1], "fds": [fds0, fds1], "checks": checks, "errors": errors}


def report(result: dict[str, Any], args: argparse.Namespace) -> int:
    print()
    print(f"   {result['total_operations']} operations in {result['elapsed_s']:.0f} s "
          f"({result['total_operations'] / result['elapsed_s']:.1f}/s) by {result['clients']} clients; "
          f"{result['bytes_up'] / 1e9:.2f} GB up, {result['bytes_down'] / 1e9:.2f} GB down; "
          f"{result['disconnects']} uploads cut off mid-body")
    for name, count in result["operations"].items():
        print(f"     {name:<28} {count}")
    print(f"   kosha gc: {result['gc']}")
    print(f"   server log: {len(result['log_errors'])} ERROR/Traceback lines"
          + (f", e.g. {result['log_errors'][:3]}" if result["log_errors"] else ""))
    print()
    for check in result["checks"]:
        print(f"   {'PASS' if check.ok else 'MISS'}  {check.name}: {check.figure}")
    if result["errors"]:
        print("\n   first errors:")
        for error in result["errors"][:15]:
            print(f"     {error}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {**result, "checks": [check.__dict__ for check in result["checks"]]}, indent=2, default=str))
    return 0 if all(check.ok for check in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
