"""KOS REST: objects (upload, list, download, metadata, move/copy, rename, delete).

Where the published reference is silent (spec/README.md) this module decides, and says so here:

- Upload (`PUT .../objects`) takes either `multipart/form-data` -- one or more `file` parts and an
  optional `prefix` field, which must come before them (400 otherwise); key = prefix + the part's
  file name; streamed into the store, never held whole -- answering 201 `{message, objectKey}`
  (plus `objectKeys` when several files came), or the published JSON `{"prefix": key}`, answering
  201 `{message, objectKey, uploadPreSignedUrl}`: a pre-signed S3 PUT (see services.presign).
  Files are stored one by one as they stream in: when a later part fails (or a late `prefix`
  field is refused), the files before it stay stored.
- Download answers the bytes (streamed, `Range: bytes=` single and suffix ranges) to a client whose
  Accept header names `application/octet-stream`, and JSON `{message, objectKey, preSignedUrl}`
  (a pre-signed S3 GET) to any other.
- Listing shows the immediate children of `prefix` (delimiter "/"), folders as `isFolder: true`
  with keys ending in "/", at most `max_keys` (default and limit 1000) entries; when more remain,
  `isTruncated` is true and `nextContinuationToken` is passed back as `continuation_token`.
- ETags are answered quoted, as in S3 (`"<md5>"`).
- Request bodies name the key `objectkey` (published); `objectKey` is accepted too.
- Move takes an optional `destinationBucket` (name or KRN, Kosha's extension): a copy or move to
  another bucket of the caller's account, still metadata only (services.objects.relocate).
- Download, metadata and delete take an optional `versionId` (that version; a delete of one is
  permanent), and download an optional `expiresIn` for its pre-signed URL (docs/extensions.md).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..clock import http_date, iso
from ..errors import Invalid, RangeNotSatisfiable, Unprocessable
from ..ids import MAX_KEY_BYTES
from ..ranges import parse_range
from ..services import presign
from ..services.models import ObjectVersion
from ..services.principal import Principal
from .common import field, header_map, json_body, kosha, ok, principal, query_int, whole_body
from .errors import kos_error_response
from .multipart_form import SMALL_FORM, MultipartForm, boundary_of

BASE = "/kos/v1/buckets/{bucketId}/objects"
MAX_LIST = 1000
# Key fields are read up to this length so that keys just past 1024 bytes get the key rule's own
# message (400); anything longer is refused as a malformed field.
MAX_KEY_FIELD = MAX_KEY_BYTES * 4
MAX_BUCKET_REF = 512   # a bucket name or its KRN


def bucket_ref(request: Request) -> str:
    return request.path_params["bucketId"]  # type: ignore[no-any-return]


def object_key(body: dict[str, Any], *names: str) -> str:
    """The first of `names` present in the body, as an object key (400 if none)."""
    for name in names:
        if body.get(name) is not None:
            return field(body, name, str, max_length=MAX_KEY_FIELD)  # type: ignore[no-any-return]
    raise Invalid(f"'{names[0]}' is required")


# -- upload ---------------------------------------------------------------------------------

async def upload(request: Request) -> Response:
    who = await principal(request)
    boundary = boundary_of(header_map(request).get("content-type", ""))
    if boundary is not None:
        return await _upload_form(request, who, boundary)
    body = await json_body(request)
    key = object_key(body, "prefix", "objectKey", "objectkey")
    url = await presign.upload_url(kosha(request), who, bucket_ref(request), key)
    return ok({"message": "Upload the file with an HTTP PUT to uploadPreSignedUrl",
               "objectKey": key, "uploadPreSignedUrl": url}, status=201)


async def _upload_form(request: Request, who: Principal, boundary: bytes) -> Response:
    prefix = ""
    keys: list[str] = []
    length = header_map(request).get("content-length")
    if length is not None and length.isascii() and length.isdigit() and int(length) <= SMALL_FORM:
        # A small body (at most what one object keeps inline) is in hand after a read or two:
        # take it whole and split it in one pass (multipart_form.split_small_form).
        form = MultipartForm.of_body(await whole_body(request, SMALL_FORM), boundary)
    else:
        form = MultipartForm(request.stream(), boundary)
    async for part in form.parts():
        if part.filename is None:
            if part.name != "prefix":
                await part.skip()   # unknown plain fields are ignored, as browsers send extras
                continue
            if keys:
                raise Invalid("the 'prefix' field must come before the file parts")
            try:
                prefix = (await part.read(MAX_KEY_FIELD)).decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("the 'prefix' field is not valid UTF-8") from None
            continue
        if not part.filename:
            raise Invalid("each file part needs a file name (Content-Disposition filename)")
        key = prefix + part.filename
        await kosha(request).objects.put(
            who, bucket_ref(request), key, part.chunks(),
            content_type=_content_type(part.content_type, part.filename))
        keys.append(key)
    if not keys:
        raise Invalid("no file part: send the file in a multipart field named 'file'")
    answer: dict[str, Any] = {"message": "File uploaded successfully" if len(keys) == 1
                              else f"{len(keys)} files uploaded successfully", "objectKey": keys[0]}
    if len(keys) > 1:
        answer["objectKeys"] = keys
    return ok(answer, status=201)


_HEADER_SAFE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _content_type(declared: str | None, filename: str) -> str:
    """The part's Content-Type; if absent, generic, or not something a response header can
    carry back (control characters: every download would fail), a guess from the file name."""
    if declared and declared.lower() != "application/octet-stream" \
            and _HEADER_SAFE.fullmatch(declared):
        return declared
    return mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"


# -- list -----------------------------------------------------------------------------------

async def list_objects(request: Request) -> Response:
    who = await principal(request)
    prefix = request.query_params.get("prefix") or ""
    max_keys = query_int(request, "max_keys", MAX_LIST, lo=1, hi=MAX_LIST)
    assert max_keys is not None
    listing = await kosha(request).objects.list(
        who, bucket_ref(request), prefix=prefix, delimiter="/",
        start_after=_decode_token(request.query_params.get("continuation_token")), max_keys=max_keys)
    entries = [(o.key, _object_entry(o)) for o in listing.objects]
    entries += [(p, {"key": p, "size": 0, "isFolder": True, "etag": None})
                for p in listing.prefixes]
    entries.sort(key=lambda e: e[0])
    return ok({"prefix": prefix, "objects": [e for _k, e in entries],
               "isTruncated": listing.is_truncated,
               "nextContinuationToken": _encode_token(listing.next_marker) if listing.is_truncated else None})


def _object_entry(version: ObjectVersion) -> dict[str, Any]:
    return {"key": version.key, "size": version.size, "lastModified": iso(version.last_modified),
            "isFolder": False, "etag": version.quoted_etag}


def _encode_token(marker: str | None) -> str | None:
    return None if marker is None else base64.urlsafe_b64encode(marker.encode()).decode()


def _decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        marker = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        marker = ""
    if not marker:
        raise Invalid("continuation_token is not one this server issued")
    return marker


# -- download and metadata ------------------------------------------------------------------

def _wants_bytes(request: Request) -> bool:
    """Whether the Accept header names application/octet-stream (with a non-zero q)."""
    for item in header_map(request).get("accept", "").split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if media.lower() != "application/octet-stream":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def requested_version(body: dict[str, Any]) -> str | None:
    """The optional `versionId` of a download, metadata or delete request (Kosha's extension)."""
    return field(body, "versionId", str, max_length=64)  # type: ignore[no-any-return]


async def download(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    key, version_id = object_key(body, "objectkey", "objectKey"), requested_version(body)
    if not _wants_bytes(request):
        url = await presign.download_url(kosha(request), who, bucket_ref(request), key, version_id,
                                         expires_in=field(body, "expiresIn", int))
        return ok({"message": "Download the file with an HTTP GET from preSignedUrl",
                   "objectKey": key, "preSignedUrl": url})
    response, stream = await kosha(request).objects.get(who, bucket_ref(request), key, version_id,
                                                        partial(_answer, request))
    if stream is None:
        return response
    return StreamingResponse(stream, status_code=response.status_code, headers=response.headers)


async def _answer(request: Request, version: ObjectVersion) -> tuple[Response, tuple[int, int] | None]:
    """The version's bytes, or the one range asked for (206), or 416 with `bytes */size`: a
    response, and the span of blob bytes to stream into it if any."""
    headers = {"ETag": version.quoted_etag, "Accept-Ranges": "bytes",
               "Last-Modified": http_date(version.last_modified),
               "Content-Type": version.content_type or "application/octet-stream"}
    try:
        wanted = parse_range(header_map(request).get("range"), version.size)
    except RangeNotSatisfiable as exc:
        response = kos_error_response(exc)
        response.headers["Content-Range"] = f"bytes */{version.size}"
        return response, None
    start, end, status = 0, version.size, 200
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{version.size}"
    if version.inline_data is not None or end <= start:   # in hand already, no need for a stream
        body = version.inline_data[start:end] if version.inline_data is not None else b""
        return Response(body, status_code=status, headers=headers), None
    headers["Content-Length"] = str(end - start)
    return Response(status_code=status, headers=headers), (start, end)


async def metadata(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    key = object_key(body, "objectkey", "objectKey")
    version = await kosha(request).objects.head(who, bucket_ref(request), key,
                                                requested_version(body))
    return ok({"key": version.key, "size_bytes": version.size, "storage_class": version.storage_class,
               "lastModified": iso(version.last_modified),
               "contentType": version.content_type or "application/octet-stream",
               "etag": version.quoted_etag, "versionId": version.version_id})


# -- move, copy, rename, delete -------------------------------------------------------------

async def move(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    source, destination = object_key(body, "sourceKey"), object_key(body, "destinationKey")
    action = field(body, "action", str, default="move")
    other = field(body, "destinationBucket", str, max_length=MAX_BUCKET_REF)
    ref = bucket_ref(request)
    if action not in ("move", "copy"):
        raise Unprocessable("'action' must be 'move' or 'copy'")
    if other is not None:
        await kosha(request).objects.relocate(who, ref, source, other, destination,
                                              remove_source=action == "move")
    elif action == "copy":
        await kosha(request).objects.copy(who, ref, source, ref, destination)
    else:
        await kosha(request).objects.move(who, ref, source, destination)
    answer = {"message": f"Object {'copied' if action == 'copy' else 'moved'} successfully",
              "sourceKey": source, "destinationKey": destination}
    return ok(answer if other is None else {**answer, "destinationBucket": other})


async def rename(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    old, new = object_key(body, "oldKey"), object_key(body, "newKey")
    await kosha(request).objects.move(who, bucket_ref(request), old, new)
    return ok({"message": "Object renamed successfully", "oldKey": old, "newKey": new})


async def delete(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    key, version_id = object_key(body, "objectkey", "objectKey"), requested_version(body)
    await kosha(request).objects.delete_existing(who, bucket_ref(request), key, version_id)
    answer = {"message": "File deleted successfully", "objectKey": key}
    return ok(answer if version_id is None else {**answer, "versionId": version_id})


routes = [
    Route(BASE, upload, methods=["PUT"]),
    Route(BASE, list_objects, methods=["GET"]),
    Route(BASE + "/download", download, methods=["POST"]),
    Route(BASE + "/metadata", metadata, methods=["POST"]),
    Route(BASE + "/move", move, methods=["POST"]),
    Route(BASE + "/rename", rename, methods=["POST"]),
    Route(BASE + "/delete", delete, methods=["POST"]),
]
