"""KOS REST (Kosha's extension): multipart uploads, for files too large for one request.

The S3 multipart rules (services.multipart) over JSON: an upload is named by its id within the
bucket, so the routes carry no key. A part's raw body streams into the blob store as S3's
UploadPart does. ETags are answered quoted, as everywhere in this API; `complete` accepts them
quoted or not. See docs/extensions.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..errors import Unprocessable
from ..services.multipart import Part, Upload
from .common import field, json_body, kosha, no_content, ok, principal
from .objects import bucket_ref, object_key

BASE = "/kos/v1/buckets/{bucketId}/uploads"
ONE = BASE + "/{uploadId}"
MAX_PARTS = 10000


def _upload_view(upload: Upload) -> dict[str, Any]:
    return {"uploadId": upload.upload_id, "objectKey": upload.key, "initiated": iso(upload.initiated)}


def _part_view(part: Part) -> dict[str, Any]:
    return {"partNumber": part.part_number, "etag": f'"{part.etag}"', "size": part.size}


def _upload_id(request: Request) -> str:
    return request.path_params["uploadId"]  # type: ignore[no-any-return]


async def create(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    key = object_key(body, "objectkey", "objectKey")
    upload_id = await kosha(request).multipart.create(
        who, bucket_ref(request), key, content_type=field(body, "contentType", str, max_length=255))
    return ok({"uploadId": upload_id, "objectKey": key}, status=201)


async def list_uploads(request: Request) -> Response:
    who = await principal(request)
    uploads, _truncated = await kosha(request).multipart.list_uploads(
        who, bucket_ref(request), prefix=request.query_params.get("prefix") or "")
    return ok({"uploads": [_upload_view(u) for u in uploads]})


async def upload_part(request: Request) -> Response:
    who = await principal(request)
    raw = request.path_params["partNumber"]
    if not (raw.isascii() and raw.isdigit()):
        raise Unprocessable("the part number must be an integer from 1 to 10000")
    length = request.headers.get("content-length")
    part = await kosha(request).multipart.upload_part(
        who, bucket_ref(request), None, _upload_id(request), int(raw), request.stream(),
        expected_size=int(length) if length and length.isascii() and length.isdigit() else None)
    return ok(_part_view(part))


async def describe(request: Request) -> Response:
    who = await principal(request)
    upload, parts, _truncated = await kosha(request).multipart.list_parts(
        who, bucket_ref(request), None, _upload_id(request), max_parts=MAX_PARTS)
    return ok({**_upload_view(upload), "parts": [_part_view(p) for p in parts]})


def _chosen_parts(body: dict[str, Any]) -> list[tuple[int, str]]:
    chosen = []
    for i, part in enumerate(field(body, "parts", list, required=True)):
        if not isinstance(part, dict):
            raise Unprocessable(f"parts[{i}] must be an object")
        number, etag = part.get("partNumber"), part.get("etag")
        if isinstance(number, bool) or not isinstance(number, int) or not isinstance(etag, str):
            raise Unprocessable(f"parts[{i}] needs an integer 'partNumber' and a string 'etag'")
        chosen.append((number, etag.strip().strip('"')))
    return chosen


async def complete(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    version = await kosha(request).multipart.complete(
        who, bucket_ref(request), None, _upload_id(request), _chosen_parts(body))
    return ok({"objectKey": version.key, "etag": version.quoted_etag,
               "versionId": version.version_id})


async def abort(request: Request) -> Response:
    who = await principal(request)
    await kosha(request).multipart.abort(who, bucket_ref(request), None, _upload_id(request))
    return no_content()


routes = [
    Route(BASE, create, methods=["POST"]),
    Route(BASE, list_uploads, methods=["GET"]),
    Route(ONE + "/parts/{partNumber}", upload_part, methods=["PUT"]),
    Route(ONE, describe, methods=["GET"]),
    Route(ONE + "/complete", complete, methods=["POST"]),
    Route(ONE, abort, methods=["DELETE"]),
]
