"""The HTTP webhook target: `http(s)://host[:port]/path[?secret=S][&timeout=SECONDS]`.

Each event is one POST of its JSON message (`{"Records": [...]}`), in order, on a kept-alive
connection (httpx). A 2xx answer is delivery; anything else, or no answer, raises and the worker
retries. With `secret`, each POST carries `X-Kosha-Signature: sha256=<hex>`, the HMAC-SHA256 of
the body under the secret, so the receiver can tell the events are ours. `https` is verified
against the system's certificate authorities. Kosha's own options are removed from the URL
that is called; the secret never leaves in a log line or an error.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from ..config import mask_url
from .base import Delivery

OPTIONS = ("secret", "timeout")
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
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                               urlencode([(k, v) for k, v in pairs if k not in OPTIONS]), ""))
        self.masked = mask_url(url)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        return self._client

    async def send(self, batch: list[Delivery]) -> None:
        client = self._http()
        for done, delivery in enumerate(batch):
            headers = {"content-type": "application/json",
                       "x-kosha-event": delivery.event_name}
            if self._secret is not None:
                headers[SIGNATURE_HEADER] = signature(self._secret, delivery.body)
            try:
                answer = await client.post(self.url, content=delivery.body, headers=headers)
            except httpx.HTTPError as exc:
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}): "
                                    f"{type(exc).__name__}", done) from None
            if not 200 <= answer.status_code < 300:
                raise WebhookFailed(f"webhook target {self.id} ({self.masked}) answered "
                                    f"{answer.status_code}", done)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class WebhookFailed(Exception):
    """A POST was not answered 2xx: the worker retries from this event (`delivered` of the
    batch, those before it, went through)."""

    def __init__(self, message: str, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered


def make(target_id: str, url: str) -> WebhookTarget:
    return WebhookTarget(target_id, url)
