"""The HTTP webhook target:
`http(s)://host[:port]/path[?secret=S][&timeout=SECONDS][&batch=N][&pipeline=N]`.

Each event is one POST of its JSON message (`{"Records": [record]}`, as AWS and MinIO send
them), in order, on a kept-alive connection (kosha.notify.targets.http1: httpx cost
20 times the CPU per POST). With `batch=N` (1 to 1000) up to N events
that are waiting go in one POST, `{"Records": [r1, r2, ...]}`: far cheaper for both ends under
load, for consumers that read every element of `Records` (not only the first). The POSTs of
the events waiting are pipelined, up to `pipeline=N` (default 100; 1 turns it off) written
before their answers are read, never two of one key in a pipeline (docs/notifications.md,
"Pipelining"). A 2xx answer is delivery; anything else, or no answer, raises and the worker
retries. With `secret`, each POST carries `X-Kosha-Signature: sha256=<hex>`, the HMAC-SHA256 of
the body under the secret, so the receiver can tell the events are ours. `https` is verified
against the system's certificate authorities. Kosha's own options are removed from the URL
that is called; the secret never leaves in a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..config import mask_url
from .base import Delivery
from .http1 import Http1Connection, Http1Error

OPTIONS = ("secret", "timeout", "batch", "pipeline")
PIPELINE = 100   # POSTs written at once on a kept connection (1: one at a time)
PREFIX, SUFFIX = b'{"Records":[', b"]}"   # kosha.notify.events.message writes exactly these
SIGNATURE_HEADER = "X-Kosha-Signature"


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookTarget:
    kind = "webhook"

    def __init__(self, target_id: str, url: str) -> None:
        self.id = target_id
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook target {target_id}: {mask_url(url)} is not an http(s) URL")
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        options = {k: v for k, v in pairs if k in OPTIONS}
        secret = options.get("secret")
        self._secret = secret.encode() if secret else None
        self._timeout = float(options.get("timeout") or 10)
        self._batch = int(options.get("batch") or 1)
        if not 1 <= self._batch <= 1000:
            raise ValueError(f"webhook target {target_id}: batch must be 1 to 1000")
        self._pipeline = int(options.get("pipeline") or PIPELINE)
        if not 1 <= self._pipeline <= 1000:
            raise ValueError(f"webhook target {target_id}: pipeline must be 1 to 1000")
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                               urlencode([(k, v) for k, v in pairs if k not in OPTIONS]), ""))
        self.masked = mask_url(url)
        self._http = Http1Connection(self.url, self._timeout, b"content-type: application/json\r\n")

    async def send(self, batch: list[Delivery]) -> None:
        """POST the batch's chunks (one event each, or `batch=N`) in order, pipelined in runs
        of chunks whose keys differ (`_run`); what a lost connection left unanswered is sent
        again at once on a new one, as long as every exchange answers at least one."""
        size = self._batch
        chunks = [batch[i:i + size] for i in range(0, len(batch), size)] if size > 1 else \
            [[delivery] for delivery in batch]
        requests = [self._request(chunk) for chunk in chunks]
        done, retried = 0, False
        while done < len(chunks):
            reused = self._http.kept      # a kept connection may have died while idle
            end = _run(chunks, done, self._http.depth(self._pipeline))
            try:
                statuses = await self._http.exchange(requests[done:end])
                error = None
            except Http1Error as exc:
                statuses, error = exc.answered, exc
            ok = next((n for n, status in enumerate(statuses) if not 200 <= status < 300),
                      len(statuses))
            done += ok
            if ok < len(statuses):
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}) answered "
                                    f"{statuses[ok]}", min(done * size, len(batch)))
            if error is not None and not ok:
                if reused and not retried:
                    retried = True     # once, at once, on a new connection
                    continue
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}): {error}",
                                    min(done * size, len(batch)))
            retried = False

    def _request(self, chunk: list[Delivery]) -> bytes:
        body = chunk[0].body if len(chunk) == 1 else _merged(chunk)
        fields = b"x-kosha-event: %s\r\n" % chunk[0].event_name.encode("latin-1") \
            if len(chunk) == 1 else b""
        if self._secret is not None:
            fields += f"{SIGNATURE_HEADER}: {signature(self._secret, body)}\r\n".encode()
        return self._http.request(body, fields)

    async def close(self) -> None:
        self._http.close()


def _run(chunks: list[list[Delivery]], start: int, most: int) -> int:
    """The end of the pipeline that starts at chunk `start`: at most `most` chunks, and no key
    in two of them, so that if one is not delivered none sent after it in the same pipeline
    is a later event of the same key (per-key order holds; only duplicates are possible)."""
    end, stop = start + 1, min(len(chunks), start + most)
    if end >= stop:
        return end
    seen = {(d.bucket, d.key) for d in chunks[start]}
    while end < stop:
        keys = {(d.bucket, d.key) for d in chunks[end]}
        if not seen.isdisjoint(keys):
            break
        seen |= keys
        end += 1
    return end


def _merged(chunk: list[Delivery]) -> bytes:
    """One message of several events: their records in one `Records` list, in order."""
    inner = []
    for delivery in chunk:
        body = delivery.body
        if not (body.startswith(PREFIX) and body.endswith(SUFFIX)):
            raise ValueError("not a message kosha.notify.events wrote")
        inner.append(body[len(PREFIX):-len(SUFFIX)])
    return PREFIX + b",".join(inner) + SUFFIX


class WebhookFailed(Exception):
    """A POST was not answered 2xx: the worker retries from this event (`delivered` of the
    batch, those before it, went through)."""

    def __init__(self, message: str, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered


def make(target_id: str, url: str) -> WebhookTarget:
    return WebhookTarget(target_id, url)
