"""The HTTP webhook target: `http(s)://host[:port]/path[?secret=S][&timeout=SECONDS][&batch=N]`.

Each event is one POST of its JSON message (`{"Records": [record]}`, as AWS and MinIO send
them), in order, on a kept-alive connection (kosha.notify.targets.http1: httpx cost
20 times the CPU per POST). With `batch=N` (1 to 1000) up to N events
that are waiting go in one POST, `{"Records": [r1, r2, ...]}`: far cheaper for both ends under
load, for consumers that read every element of `Records` (not only the first). A 2xx answer is
delivery; anything else, or no answer, raises and the worker retries. With `secret`, each POST carries `X-Kosha-Signature: sha256=<hex>`, the HMAC-SHA256 of
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

OPTIONS = ("secret", "timeout", "batch")
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
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                               urlencode([(k, v) for k, v in pairs if k not in OPTIONS]), ""))
        self.masked = mask_url(url)
        self._http = Http1Connection(self.url, self._timeout)

    async def send(self, batch: list[Delivery]) -> None:
        for done in range(0, len(batch), self._batch):
            chunk = batch[done:done + self._batch]
            body = chunk[0].body if len(chunk) == 1 else _merged(chunk)
            headers = {"content-type": "application/json"}
            if len(chunk) == 1:
                headers["x-kosha-event"] = chunk[0].event_name
            if self._secret is not None:
                headers[SIGNATURE_HEADER] = signature(self._secret, body)
            try:
                status = await self._http.post(body, headers)
            except Http1Error as exc:
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}): {exc}",
                                    done) from None
            if not 200 <= status < 300:
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}) answered "
                                    f"{status}", done)

    async def close(self) -> None:
        self._http.close()


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
