"""KOS REST: a bucket's policy, the allow-list of addresses for its S3 traffic
(`/kos/v1/buckets/policy/{bucketKrn}`; the bucket's KRN, its name, or the policy's KRN).

POST creates (409 if one exists; a list left out means none), PUT replaces the lists it names,
GET reads, DELETE removes; without a policy GET/PUT/DELETE are 404. The published
`BucketPolicyCreate` requires a `name` it never defines: it is accepted and ignored.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import json_body, kosha, no_content, ok, principal

PATH = "/kos/v1/buckets/policy/{bucketKrn}"


async def get_policy(request: Request) -> Response:
    return ok(await kosha(request).bucket_policies.get(await principal(request), request.path_params["bucketKrn"]))


async def create_policy(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    policy = await kosha(request).bucket_policies.create(
        who, request.path_params["bucketKrn"], body.get("s3_read_write_ips"), body.get("s3_read_only_ips"))
    return ok(policy, status=201)


async def update_policy(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    policy = await kosha(request).bucket_policies.update(
        who, request.path_params["bucketKrn"], body.get("s3_read_write_ips"), body.get("s3_read_only_ips"))
    return ok(policy)


async def delete_policy(request: Request) -> Response:
    await kosha(request).bucket_policies.delete(await principal(request), request.path_params["bucketKrn"])
    return no_content()


routes = [
    Route(PATH, get_policy, methods=["GET"]),
    Route(PATH, create_policy, methods=["POST"]),
    Route(PATH, update_policy, methods=["PUT"]),
    Route(PATH, delete_policy, methods=["DELETE"]),
]
