"""The S3 endpoint: a raw ASGI application (no framework routing on the hot path).

Per request: parse (one pass over the headers), address (path or virtual host), route (table
lookups), authenticate (SigV4 header / pre-signed / anonymous), run one handler, add CORS headers
when a browser asked, send. Errors of any kind become the S3 XML error document in `error.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import request_context
from ..errors import KoshaError
from ..services.container import Kosha
from ..services.request_facts import S3, RequestFacts, set_current as set_facts
from . import (acl, bucket, bucket_policy, copy, cors, delete, get, lifecycle, list as listing,
               multipart, notification, ownership, post_object, put, tagging, versioning)
from . import router as r
from .auth import authenticate
from .error import error_response, internal_error
from .request import S3Request, S3Response

log = logging.getLogger("kosha.s3")

Handler = Callable[[S3Request], Awaitable[S3Response]]

HANDLERS: dict[str, Handler] = {
    r.LIST_BUCKETS.name: bucket.list_buckets,
    r.CREATE_BUCKET.name: bucket.create_bucket,
    r.HEAD_BUCKET.name: bucket.head_bucket,
    r.DELETE_BUCKET.name: bucket.delete_bucket,
    r.GET_BUCKET_LOCATION.name: bucket.get_bucket_location,
    r.GET_BUCKET_VERSIONING.name: versioning.get_bucket_versioning,
    r.PUT_BUCKET_VERSIONING.name: versioning.put_bucket_versioning,
    r.GET_BUCKET_TAGGING.name: tagging.get_bucket_tagging,
    r.PUT_BUCKET_TAGGING.name: tagging.put_bucket_tagging,
    r.DELETE_BUCKET_TAGGING.name: tagging.delete_bucket_tagging,
    r.GET_BUCKET_LIFECYCLE.name: lifecycle.get_bucket_lifecycle,
    r.PUT_BUCKET_LIFECYCLE.name: lifecycle.put_bucket_lifecycle,
    r.DELETE_BUCKET_LIFECYCLE.name: lifecycle.delete_bucket_lifecycle,
    r.GET_BUCKET_CORS.name: cors.get_bucket_cors,
    r.PUT_BUCKET_CORS.name: cors.put_bucket_cors,
    r.DELETE_BUCKET_CORS.name: cors.delete_bucket_cors,
    r.GET_BUCKET_NOTIFICATION.name: notification.get_bucket_notification,
    r.PUT_BUCKET_NOTIFICATION.name: notification.put_bucket_notification,
    r.GET_BUCKET_ACL.name: acl.get_bucket_acl,
    r.PUT_BUCKET_ACL.name: acl.put_bucket_acl,
    r.LIST_OBJECTS.name: listing.list_objects,
    r.LIST_OBJECTS_V2.name: listing.list_objects_v2,
    r.LIST_OBJECT_VERSIONS.name: listing.list_object_versions,
    r.LIST_MULTIPART_UPLOADS.name: multipart.list_multipart_uploads,
    r.DELETE_OBJECTS.name: delete.delete_objects,
    r.POST_OBJECT.name: post_object.post_object,
    r.GET_OBJECT.name: get.get_object,
    r.HEAD_OBJECT.name: get.head_object,
    r.PUT_OBJECT.name: put.put_object,
    r.COPY_OBJECT.name: copy.copy_object,
    r.DELETE_OBJECT.name: delete.delete_object,
    r.GET_OBJECT_ATTRIBUTES.name: get.get_object_attributes,
    r.GET_OBJECT_ACL.name: acl.get_object_acl,
    r.PUT_OBJECT_ACL.name: acl.put_object_acl,
    r.GET_OBJECT_TAGGING.name: tagging.get_object_tagging,
    r.PUT_OBJECT_TAGGING.name: tagging.put_object_tagging,
    r.DELETE_OBJECT_TAGGING.name: tagging.delete_object_tagging,
    r.CREATE_MULTIPART.name: multipart.create_multipart_upload,
    r.UPLOAD_PART.name: multipart.upload_part,
    r.UPLOAD_PART_COPY.name: multipart.upload_part_copy,
    r.COMPLETE_MULTIPART.name: multipart.complete_multipart_upload,
    r.ABORT_MULTIPART.name: multipart.abort_multipart_upload,
    r.LIST_PARTS.name: multipart.list_parts,
    r.GET_BUCKET_POLICY.name: bucket_policy.get_bucket_policy,
    r.PUT_BUCKET_POLICY.name: bucket_policy.put_bucket_policy,
    r.DELETE_BUCKET_POLICY.name: bucket_policy.delete_bucket_policy,
    r.GET_BUCKET_POLICY_STATUS.name: bucket_policy.get_bucket_policy_status,
    r.GET_OWNERSHIP.name: ownership.get_ownership_controls,
    r.PUT_OWNERSHIP.name: ownership.put_ownership_controls,
    r.DELETE_OWNERSHIP.name: ownership.delete_ownership_controls,
    r.GET_PAB.name: ownership.get_public_access_block,
    r.PUT_PAB.name: ownership.put_public_access_block,
    r.DELETE_PAB.name: ownership.delete_public_access_block,
}

_START = "http.response.start"
_BODY = "http.response.body"


class S3App:
    """ASGI callable serving the S3 API for one `Kosha`."""

    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self.addressing = r.Addressing(kosha.settings.s3_domain)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        req = None
        try:
            req = S3Request(self.kosha, scope, receive)
            request_context.enter(req.client_ip, req.request_id)
            resp = await self._handle(req)
        except KoshaError as e:
            resp = error_response(req, e)
        except Exception as e:  # noqa: BLE001 - every failure becomes an S3 error document
            resp = internal_error(req, e)
        if req is not None and req.bucket is not None and "origin" in req.headers \
                and req.method != "OPTIONS":
            try:
                await cors.decorate(req, resp)
            except Exception:  # noqa: BLE001
                log.exception("CORS decoration failed")
        if req is not None:   # for the access log and /metrics (observe.Observed)
            scope["kosha.principal"] = req.principal
            if req.op is not None:
                scope["kosha.operation"] = req.op.name
        await self._send(req, resp, send)

    async def _handle(self, req: S3Request) -> S3Response:
        req.bucket, req.key = self.addressing.resolve(req.host, req.raw_path)
        op = r.route(req.method, req.bucket, req.key, req.query, req.headers)
        req.op = op
        set_facts(RequestFacts(S3, req.client_ip, req.scope.get("scheme") == "https", req.headers,
                               req.query, op.action, op.s3))
        if op is r.OPTIONS:
            return await cors.preflight(req)
        if op is not r.POST_OBJECT:
            await authenticate(req)
        return await HANDLERS[op.name](req)

    async def _send(self, req: S3Request | None, resp: S3Response, send: Any) -> None:
        headers = resp.headers
        if req is not None and (resp.status < 400 or not resp.body):
            for name, _value in headers:
                if name == b"x-amz-request-id":
                    break
            else:
                rid = req.request_id.encode()
                headers.append((b"x-amz-request-id", rid))
                headers.append((b"x-amz-id-2", rid))
        stream = resp.stream
        if stream is None:
            await send({"type": _START, "status": resp.status, "headers": headers})
            await send({"type": _BODY, "body": resp.body})
            return
        # Read the first chunk before committing to a status: a missing blob is then still a 500.
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = b""
        except Exception as e:  # noqa: BLE001
            await _aclose(stream)
            err = e if isinstance(e, KoshaError) else None
            resp = error_response(req, err) if err else internal_error(req, e)
            await send({"type": _START, "status": resp.status, "headers": resp.headers})
            await send({"type": _BODY, "body": resp.body})
            return
        await send({"type": _START, "status": resp.status, "headers": headers})
        try:
            if first:
                await send({"type": _BODY, "body": first, "more_body": True})
            async for chunk in stream:
                await send({"type": _BODY, "body": chunk, "more_body": True})
        except Exception:
            log.exception("S3 response stream failed after the status was sent: %s",
                          req.resource if req else "?")
            raise
        finally:
            await _aclose(stream)
        await send({"type": _BODY, "body": b""})


async def _aclose(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:  # noqa: BLE001
            pass


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def build_s3_app(kosha: Kosha) -> S3App:
    return S3App(kosha)
