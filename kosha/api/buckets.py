"""KOS REST: buckets (list, create, get, update, delete).

`{bucketId}` is the bucket's KRN (sent unescaped: it contains colons, never a slash) or its name.
Capacities are bytes. Where the official clients read a field under another name than the
published one, both are answered (`createdAt` and `created_at`).

Updating: `allocatedCapacity` (bytes, or null for no quota) is Kosha's extension of the published
update body, which has no field for a quota.

Listing: without `page_size` every bucket is on one page (the official MCP server looks a bucket up
in an unpaged listing); `refresh` is accepted and has no effect, since answers are never stale.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..config import Settings
from ..services.models import Bucket
from .common import (field, json_body, kosha, no_content, ok, only_fields, principal,
                     query_int)


def bucket_json(bucket: Bucket, settings: Settings) -> dict[str, Any]:
    """BucketResponse, plus `description`, `created_at` and `objectCount`."""
    created = iso(bucket.created_at)
    return {
        "name": bucket.name, "krnid": bucket.krn, "owner": bucket.owner,
        "account_id": bucket.account_id, "createdAt": created, "created_at": created,
        "usedCapacity": bucket.used_capacity, "allocatedCapacity": bucket.allocated_capacity,
        "objectCount": bucket.object_count, "region": bucket.region,
        "url": f"{settings.s3_url}/{bucket.name}", "status": bucket.status,
        "path": f"/{bucket.name}", "protocol": "s3", "tags": bucket.tags or {},
        "versioning": bucket.versioning_enabled, "anonymous_access": bucket.anonymous_access,
        "tier": bucket.tier, "description": bucket.description,
    }


async def list_buckets(request: Request) -> Response:
    page = query_int(request, "page", 1, lo=1)
    page_size = query_int(request, "page_size", None, lo=1)
    assert page is not None
    items, total = await kosha(request).buckets.list(
        await principal(request), page, page_size, request.query_params.get("name_filter") or None)
    pages = max(1, math.ceil(total / page_size)) if page_size else 1
    answer: dict[str, Any] = {"totalItems": total, "totalPages": pages, "currentPage": page}
    if page < pages:
        answer["nextPage"] = page + 1  # absent on the last page: the reference types it integer
    answer["items"] = [bucket_json(b, kosha(request).settings) for b in items]
    return ok(answer)


async def create_bucket(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    bucket = await kosha(request).buckets.create(
        who, field(body, "name", str, required=True, max_length=255),
        region=field(body, "region", str) or request.headers.get("x-region-id") or None,
        tier=field(body, "tier", str) or request.headers.get("x-tier") or None,
        description=field(body, "description", str, max_length=4096),
        tags=field(body, "tags", dict),
        versioning=field(body, "versioning", bool, default=False),
        anonymous_access=field(body, "anonymous_access", bool, default=False),
        allocated_capacity=field(body, "allocatedCapacity", int))
    answer = {"krn": bucket.krn, "bucketName": bucket.name, "createdAt": iso(bucket.created_at)}
    return ok({**bucket_json(bucket, kosha(request).settings), **answer}, status=201)


async def get_bucket(request: Request) -> Response:
    bucket = await kosha(request).buckets.get(await principal(request), request.path_params["bucketId"])
    return ok(bucket_json(bucket, kosha(request).settings))


_UPDATABLE = ("tags", "versioning", "anonymous_access", "allocatedCapacity")


async def update_bucket(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    only_fields(body, _UPDATABLE, "a bucket update")
    bucket = await kosha(request).buckets.update(
        who, request.path_params["bucketId"], tags=field(body, "tags", dict),
        versioning=field(body, "versioning", bool),
        anonymous_access=field(body, "anonymous_access", bool),
        allocated_capacity=field(body, "allocatedCapacity", int),
        clear_quota="allocatedCapacity" in body and body["allocatedCapacity"] is None)
    return ok(bucket_json(bucket, kosha(request).settings))


async def delete_bucket(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request, required=False)
    await kosha(request).buckets.delete(who, request.path_params["bucketId"], field(body, "otp", str))
    return no_content()


routes = [
    Route("/kos/v1/buckets", list_buckets, methods=["GET"]),
    Route("/kos/v1/buckets", create_bucket, methods=["POST"]),
    Route("/kos/v1/buckets/{bucketId}", get_bucket, methods=["GET"]),
    Route("/kos/v1/buckets/{bucketId}", update_bucket, methods=["PUT"]),
    Route("/kos/v1/buckets/{bucketId}", delete_bucket, methods=["DELETE"]),
]
