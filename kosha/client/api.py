"""A KOS REST client over httpx: the session, the routes the commands call, errors as ClientError.

One `httpx.Client` (a pool of kept-alive connections) is shared by every thread of a transfer.
The session is the one cached with the profile while it is more than a minute from expiry;
within ten minutes of expiry it is refreshed, and on a 401 the key is activated again, once
(activating ends the key's previous session, so it is done only when needed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .config import Profile
from .errors import DENIED, NOT_FOUND, ClientError, NotSignedIn, from_status

API = "/kos/v1"
PAGE = 1000
REFRESH_WITHIN = 600.0
EXPIRY_MARGIN = 60.0
RETRY_PAUSES = (0.5, 2.0)
Body = bytes | Callable[[], Iterable[bytes]] | None


def _expiry(session: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(session["expiresAt"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return 0.0


def _cached(session: dict[str, Any]) -> dict[str, Any]:
    return {k: session.get(k) for k in ("sessionToken", "refreshToken", "expiresAt")}


def unreachable(endpoint: str, exc: Exception) -> ClientError:
    return ClientError(f"cannot reach {endpoint} ({type(exc).__name__}: {exc})",
                       "check the endpoint (`kosha login --endpoint URL`, KOSHA_ENDPOINT) "
                       "and that the server is running")


def activate(http: httpx.Client, access_key: str, secret_key: str) -> dict[str, Any]:
    """A new session for the key (ends its previous one)."""
    try:
        response = http.post(f"{API}/sessions/activate",
                             json={"accessKey": access_key, "secretKey": secret_key})
    except httpx.TransportError as exc:
        raise unreachable(str(http.base_url), exc) from None
    if response.status_code == 401:
        raise ClientError("the access key or secret key was refused",
                          "check them, or create a key in the console and run `kosha login` "
                          "again", DENIED)
    if response.status_code != 200:
        raise from_status(response.status_code, _json(response), "signing in")
    return _cached(response.json())


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class Api:
    def __init__(self, profile: Profile, connections: int = 16) -> None:
        self.profile = profile
        self.http = httpx.Client(
            base_url=profile.endpoint, timeout=httpx.Timeout(60.0, connect=10.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # -- session ---------------------------------------------------------------------------
    def _token(self) -> str:
        with self._lock:
            session = self.profile.session
            left = _expiry(session) - time.time()
            if session.get("sessionToken") and left > REFRESH_WITHIN:
                return str(session["sessionToken"])
            if session.get("sessionToken") and left > EXPIRY_MARGIN and session.get("refreshToken"):
                refreshed = self._refresh(session)
                if refreshed:
                    return refreshed
            return self._activate(None)

    def _refresh(self, session: dict[str, Any]) -> str | None:
        try:
            response = self.http.post(f"{API}/sessions/refresh/{session['sessionToken']}",
                                      json={"refreshToken": session["refreshToken"]})
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        self.profile.save_session(_cached(response.json()))
        return str(self.profile.session["sessionToken"])

    def _activate(self, refused: str | None) -> str:
        """Activate unless another thread already replaced the refused token."""
        current = self.profile.session.get("sessionToken")
        if refused is not None and current and current != refused:
            return str(current)
        self.profile.save_session(activate(self.http, self.profile.access_key,
                                           self.profile.secret_key))
        return str(self.profile.session["sessionToken"])

    def deactivate(self) -> None:
        """End the cached session, if any (best effort: it may have ended already)."""
        token = self.profile.session.get("sessionToken")
        if token:
            try:
                self.http.delete(f"{API}/sessions/deactivate/{token}")
            except httpx.TransportError:
                pass

    # -- requests ----------------------------------------------------------------------------
    def send(self, method: str, path: str, *, context: str = "", body: Body = None,
             ok: tuple[int, ...] = (200, 201, 204), stream: bool = False,
             idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        """One request with the session; a 401 re-activates once and sends it again, and an
        idempotent request (GET, PUT, or a read by POST) is sent again after a dropped
        connection or a 502-504.

        A streamed body is given as a factory so that a retry sends it afresh. With
        `stream`, the caller reads and closes the answer."""
        pauses = list(RETRY_PAUSES) if (method in ("GET", "PUT") if idempotent is None
                                         else idempotent) else []
        headers = kwargs.pop("headers", {})
        token, renewed = self._token(), False
        while True:
            try:
                request = self.http.build_request(
                    method, path, headers={**headers, "Authorization": f"Bearer {token}"},
                    content=body() if callable(body) else body, **kwargs)
                response = self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.TimeoutException) as exc:
                raise unreachable(self.profile.endpoint, exc) from None
            except httpx.TransportError as exc:
                if not pauses:
                    raise unreachable(self.profile.endpoint, exc) from None
                time.sleep(pauses.pop(0))
                continue
            if response.status_code == 401 and not renewed:
                response.close()
                renewed = True
                with self._lock:
                    token = self._activate(token)
                continue
            if response.status_code in (502, 503, 504) and pauses:
                response.close()
                time.sleep(pauses.pop(0))
                continue
            if response.status_code in ok:
                return response
            if stream:
                response.read()
            if response.status_code == 401:
                raise NotSignedIn("the server refused the session")
            raise from_status(response.status_code, _json(response), context)

    def call(self, method: str, path: str, context: str = "", **kwargs: Any) -> Any:
        """A JSON request answered with JSON (None for 204)."""
        response = self.send(method, path, context=context, **kwargs)
        return _json(response) if response.content else None

    # -- buckets ---------------------------------------------------------------------------
    def buckets(self) -> list[dict[str, Any]]:
        return list(self.call("GET", f"{API}/buckets", "listing buckets")["items"])

    def bucket(self, name: str) -> dict[str, Any]:
        return dict(self.call("GET", f"{API}/buckets/{name}", f"bucket {name!r}"))

    def create_bucket(self, name: str, **fields: Any) -> dict[str, Any]:
        body = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
        return dict(self.call("POST", f"{API}/buckets", f"creating bucket {name!r}", json=body))

    def delete_bucket(self, name: str) -> None:
        self.call("DELETE", f"{API}/buckets/{name}", f"removing bucket {name!r}")

    # -- objects ---------------------------------------------------------------------------
    def _objects(self, bucket: str, op: str = "") -> str:
        return f"{API}/buckets/{bucket}/objects" + (f"/{op}" if op else "")

    def _paged(self, path: str, field: str, context: str, params: dict[str, Any]
               ) -> Iterator[dict[str, Any]]:
        """The `field` items of every page of a listing that pages by continuation token."""
        token: str | None = None
        while True:
            page = self.call("GET", path, context,
                             params={**params, **({"continuation_token": token} if token else {})})
            yield from page[field]
            token = page.get("nextContinuationToken")
            if not page.get("isTruncated") or not token:
                return

    def children(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """The entries directly under `prefix` (folders end in '/'), a page at a time."""
        return self._paged(self._objects(bucket), "objects", f"listing kos://{bucket}/{prefix}",
                           {"prefix": prefix, "max_keys": PAGE})

    def walk(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under `prefix`, in key order, depth first: memory holds one page per
        folder level, never the whole listing."""
        for entry in self.children(bucket, prefix):
            if entry.get("isFolder"):
                yield from self.walk(bucket, entry["key"])
            else:
                yield entry

    def metadata(self, bucket: str, key: str, version: str | None = None) -> dict[str, Any]:
        body = {"objectkey": key, **({"versionId": version} if version else {})}
        return dict(self.call("POST", self._objects(bucket, "metadata"), f"kos://{bucket}/{key}",
                              json=body, idempotent=True))

    def open_download(self, bucket: str, key: str, start: int = 0) -> httpx.Response:
        """The object's bytes as a streamed answer (from `start`); the caller closes it and
        reads it raw (`iter_raw`: no decoding is asked for, and re-chunking halves the rate)."""
        headers = {"Accept": "application/octet-stream", "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        return self.send("POST", self._objects(bucket, "download"), context=f"kos://{bucket}/{key}",
                         json={"objectkey": key}, headers=headers, stream=True, ok=(200, 206),
                         idempotent=True)

    def share_url(self, bucket: str, key: str, expires: int) -> str:
        answer = self.call("POST", self._objects(bucket, "download"), f"kos://{bucket}/{key}",
                           json={"objectkey": key, "expiresIn": expires})
        return str(answer["preSignedUrl"])

    def move(self, bucket: str, source: str, destination_bucket: str, destination: str,
             action: str) -> None:
        """The server's copy or move (metadata only), within a bucket or to another one."""
        body = {"sourceKey": source, "destinationKey": destination, "action": action,
                **({"destinationBucket": destination_bucket} if destination_bucket != bucket else {})}
        self.call("POST", self._objects(bucket, "move"), f"kos://{bucket}/{source}", json=body)

    def delete(self, bucket: str, key: str, version: str | None = None) -> None:
        body = {"objectkey": key, **({"versionId": version} if version else {})}
        self.call("POST", self._objects(bucket, "delete"), f"removing kos://{bucket}/{key}",
                  json=body)

    def versions(self, bucket: str, key: str) -> Iterator[dict[str, Any]]:
        return self._paged(self._objects(bucket, "versions"), "versions",
                           f"versions of kos://{bucket}/{key}", {"key": key})

    def all_versions(self, bucket: str, prefix: str = "") -> Iterator[dict[str, Any]]:
        """Every version under `prefix` (keys deleted earlier included), by key, newest first.

        Each page is asked for before the previous one is handed out: the token names the last
        version of a page, and a caller that deletes what it is given must not have deleted it
        yet (the server would skip the rest of that key)."""
        path, context = self._objects(bucket, "versions"), f"versions in kos://{bucket}/{prefix}"

        def page(token: str | None) -> dict[str, Any]:
            return dict(self.call("GET", path, context, params={
                "prefix": prefix, "max_keys": PAGE, **({"continuation_token": token} if token else {})}))

        current = page(None)
        while True:
            token = current.get("nextContinuationToken")
            following = page(token) if current.get("isTruncated") and token else None
            yield from current["versions"]
            if following is None:
                return
            current = following

    def upload_form(self, bucket: str, body: Callable[[], Iterable[bytes]], boundary: str,
                    length: int, context: str) -> dict[str, Any]:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Content-Length": str(length)}
        return dict(self.call("PUT", self._objects(bucket), context, body=body, headers=headers))

    # -- multipart uploads (Kosha's REST extension) ----------------------------------------
    def _uploads(self, bucket: str, upload_id: str = "") -> str:
        return f"{API}/buckets/{bucket}/uploads" + (f"/{upload_id}" if upload_id else "")

    def start_upload(self, bucket: str, key: str) -> str:
        answer = self.call("POST", self._uploads(bucket), f"starting the upload of kos://{bucket}/{key}",
                           json={"objectkey": key})
        return str(answer["uploadId"])

    def upload_parts(self, bucket: str, upload_id: str) -> list[dict[str, Any]] | None:
        """The parts already received, or None when the upload no longer exists."""
        try:
            answer = self.call("GET", self._uploads(bucket, upload_id), "resuming the upload")
        except ClientError as exc:
            if exc.code == NOT_FOUND:
                return None
            raise
        return list(answer.get("parts") or [])

    def put_part(self, bucket: str, upload_id: str, number: int,
                 body: Callable[[], Iterable[bytes]], length: int) -> dict[str, Any]:
        return dict(self.call("PUT", f"{self._uploads(bucket, upload_id)}/parts/{number}",
                              f"uploading part {number}", body=body,
                              headers={"Content-Length": str(length),
                                       "Content-Type": "application/octet-stream"}))

    def complete_upload(self, bucket: str, upload_id: str, parts: list[dict[str, Any]]
                        ) -> dict[str, Any]:
        body = {"parts": [{"partNumber": p["partNumber"], "etag": p["etag"]} for p in parts]}
        return dict(self.call("POST", f"{self._uploads(bucket, upload_id)}/complete",
                              "completing the upload", json=body))

    def abort_upload(self, bucket: str, upload_id: str) -> None:
        self.call("DELETE", self._uploads(bucket, upload_id), "aborting the upload")

    # -- keys, lifecycle, account ----------------------------------------------------------
    def keys(self) -> list[dict[str, Any]]:
        return list(self.call("GET", f"{API}/access_keys", "listing access keys"))

    def create_key(self, name: str | None) -> dict[str, Any]:
        body = {"key_name": name} if name else {}
        return dict(self.call("POST", f"{API}/access_keys", "creating an access key", json=body))

    def delete_key(self, access_key: str) -> None:
        self.call("DELETE", f"{API}/access_keys/{quote(access_key, safe='')}",
                  f"removing access key {access_key}")

    def rules(self, bucket: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"{API}/buckets/{bucket}/lifecycle-rules",
                              f"lifecycle rules of {bucket!r}"))

    def add_rule(self, bucket: str, rule: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", f"{API}/buckets/{bucket}/lifecycle-rules",
                              f"adding a lifecycle rule to {bucket!r}", json=rule))

    def delete_rule(self, bucket: str, rule_id: str) -> None:
        self.call("DELETE", f"{API}/buckets/{bucket}/lifecycle-rules/{quote(rule_id, safe='')}",
                  f"removing lifecycle rule {rule_id!r}")

    def preview_rules(self, bucket: str, days: int, rule: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"days": days, **({"rule": rule} if rule else {})}
        return dict(self.call("GET", f"{API}/buckets/{bucket}/lifecycle-rules/preview",
                              f"lifecycle preview of {bucket!r}", params=params))

    def simulate(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("POST", f"{API}/account/simulate", "simulating", json=body))

    def whoami(self) -> dict[str, Any]:
        return dict(self.call("GET", f"{API}/account", "who am I"))
