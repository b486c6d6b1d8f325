"""KOS REST (Kosha's extension): one object's versions, and restoring an older one.

`GET .../objects/versions?key=K` pages through K's versions newest first (`max_keys`, default
and limit 1000; `continuation_token` is the `nextContinuationToken` of the previous page).
`POST .../objects/restore` `{objectkey, versionId}` makes that version current again by a
metadata copy (services.objects.restore). See docs/extensions.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..errors import Invalid
from ..services.models import ObjectVersion
from .common import field, json_body, kosha, ok, principal, query_int
from .objects import BASE, MAX_LIST, bucket_ref, object_key


def _version_entry(version: ObjectVersion) -> dict[str, Any]:
    return {"versionId": version.version_id, "isLatest": version.is_latest,
            "isDeleteMarker": version.is_delete_marker, "size_bytes": version.size,
            "etag": None if version.is_delete_marker else version.quoted_etag,
            "lastModified": iso(version.last_modified)}


async def list_versions(request: Request) -> Response:
    who = await principal(request)
    key = request.query_params.get("key")
    if not key:
        raise Invalid("query parameter 'key' is required")
    max_keys = query_int(request, "max_keys", MAX_LIST, lo=1, hi=MAX_LIST)
    assert max_keys is not None
    listing = await kosha(request).objects.versions_of(
        who, bucket_ref(request), key, max_keys=max_keys,
        after=request.query_params.get("continuation_token") or None)
    return ok({"objectKey": key, "versions": [_version_entry(v) for v in listing.versions],
               "isTruncated": listing.is_truncated,
               "nextContinuationToken": listing.next_version_id_marker})


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
