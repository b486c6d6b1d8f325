"""KOS REST (Kosha's extension): object versions, and restoring an older one.

`GET .../objects/versions?key=K` pages through K's versions newest first (`max_keys`, default
and limit 1000; `continuation_token` is the `nextContinuationToken` of the previous page).
Without `key`, every version under `prefix` (default: the whole bucket), by key and newest
first within a key, paged the same way (the token carries the last key and version id).
`POST .../objects/restore` `{objectkey, versionId}` makes that version current again by a
metadata copy (services.objects.restore). See docs/extensions.md.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..errors import Invalid
from ..services.models import ObjectVersion
from ..services.principal import Principal
from .common import field, json_body, kosha, ok, principal, query_int
from .objects import BASE, MAX_LIST, bucket_ref, object_key


def _version_entry(version: ObjectVersion) -> dict[str, Any]:
    return {"key": version.key, "versionId": version.version_id, "isLatest": version.is_latest,
            "isDeleteMarker": version.is_delete_marker, "size_bytes": version.size,
            "etag": None if version.is_delete_marker else version.quoted_etag,
            "lastModified": iso(version.last_modified)}


async def list_versions(request: Request) -> Response:
    who = await principal(request)
    key = request.query_params.get("key")
    max_keys = query_int(request, "max_keys", MAX_LIST, lo=1, hi=MAX_LIST)
    assert max_keys is not None
    token = request.query_params.get("continuation_token") or None
    if not key:
        return await _list_all_versions(request, who, max_keys, token)
    listing = await kosha(request).objects.versions_of(
        who, bucket_ref(request), key, max_keys=max_keys, after=token)
    return ok({"objectKey": key, "versions": [_version_entry(v) for v in listing.versions],
               "isTruncated": listing.is_truncated,
               "nextContinuationToken": listing.next_version_id_marker})


async def _list_all_versions(request: Request, who: Principal, max_keys: int,
                             token: str | None) -> Response:
    """Every version under `prefix`, keys in order and each key's newest first: a purge or an
    audit reaches the versions of keys deleted earlier, which no object listing shows."""
    prefix = request.query_params.get("prefix") or ""
    key_marker, version_marker = _decode_marker(token)
    listing = await kosha(request).objects.list_versions(
        who, bucket_ref(request), prefix=prefix, key_marker=key_marker,
        version_id_marker=version_marker, max_keys=max_keys)
    following = (_encode_marker(listing.next_key_marker, listing.next_version_id_marker)
                 if listing.is_truncated else None)
    return ok({"prefix": prefix, "versions": [_version_entry(v) for v in listing.versions],
               "isTruncated": listing.is_truncated, "nextContinuationToken": following})


def _encode_marker(key: str | None, version_id: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([key, version_id]).encode()).decode()


def _decode_marker(token: str | None) -> tuple[str | None, str | None]:
    if not token:
        return None, None
    try:
        key, version_id = json.loads(base64.b64decode(token.encode(), altchars=b"-_", validate=True))
        if isinstance(key, str) and isinstance(version_id, str | None):
            return key, version_id
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        pass
    raise Invalid("continuation_token is not one this server issued")


async def restore(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    key = object_key(body, "objectkey", "objectKey")
    version_id = field(body, "versionId", str, required=True, max_length=64)
    current = await kosha(request).objects.restore(who, bucket_ref(request), key, version_id)
    return ok({"message": "Version restored", "objectKey": key, "versionId": current.version_id})


routes = [
    Route(BASE + "/versions", list_versions, methods=["GET"]),
    Route(BASE + "/restore", restore, methods=["POST"]),
]
