"""DeleteObject and DeleteObjects (batch, quiet mode)."""

from __future__ import annotations

from ..errors import KoshaError
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

MAX_BATCH = 1000


async def delete_object(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    result = await req.kosha.objects.delete(req.principal, bucket.name, req.key,
                                            req.version_id(),
                                            if_match=req.headers.get("if-match"))
    resp = empty_response(204)
    if result.delete_marker:
        resp.add("x-amz-delete-marker", "true")
    if result.version_id is not None and bucket.versioning:
        resp.add("x-amz-version-id", result.version_id)
    return resp


def _parse(body: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    root = xml.parse(body, root="Delete")
    quiet = bool(xml.bool_text(root, "Quiet", False))
    items: list[tuple[str, str | None]] = []
    for node in xml.children(root, "Object"):
        key = xml.text(node, "Key")
        if key is None:
            raise xml.malformed()
        vid = xml.text(node, "VersionId")
        items.append((key, vid.strip() if vid else None))
    if not items or len(items) > MAX_BATCH:
        raise xml.malformed()
    return quiet, items


async def delete_objects(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    quiet, items = _parse(await req.read_body(2 * 1024 * 1024))
    out: list[str] = []
    for key, version_id in items:
        try:
            result = await req.kosha.objects.delete(req.principal, bucket.name, key, version_id)
        except KoshaError as e:
            parts = [el("Key", key)]
            if version_id:
                parts.append(el("VersionId", version_id))
            parts += [el("Code", e.s3_code), el("Message", e.message)]
            out.append("<Error>" + "".join(parts) + "</Error>")
            continue
        if quiet:
            continue
        parts = [el("Key", key)]
        if version_id:
            parts.append(el("VersionId", version_id))
        if result.delete_marker:
            parts.append(el("DeleteMarker", True))
            if result.version_id and version_id is None:
                parts.append(el("DeleteMarkerVersionId", result.version_id))
            elif version_id:
                parts.append(el("DeleteMarkerVersionId", version_id))
        out.append("<Deleted>" + "".join(parts) + "</Deleted>")
    return xml_response(xml.doc("DeleteResult", out))
