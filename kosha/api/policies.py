"""`/internal/kos/v1/policy`: identity policies, operator only (see services.policies).

`{policykrn}` is the KRN unescaped in the path (`krn:kos::<account>::policy:<id>`) or the bare
id. Each policy is answered as the published PolicyResponse (`name`, `policyKRN`,
`CreationDate`) plus the PolicyPayload fields (`_id`, `statements`, `conditions`, `accountId`)
and `users` (the kcids it is attached to). `GET /internal/kos/v1/policy` is the published
getPolicy: one PolicyResponse, named by `policyKRN` (or its id) or by `name` (with `accountId`
where names repeat across accounts). `GET /internal/kos/v1/policies` (an extension) lists
(filters: `accountId`, `name`). Attach and detach answer `{"message", "policies": [...]}` (each policy with
its `users` after the change) and, when one policy was named, that policy's fields at the top
level, as the published schema has them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import iso
from ..errors import Invalid, NotFound, Unprocessable
from ..services.policies import Policy
from ..services.principal import Principal
from .common import field, json_body, kosha, no_content, ok
from .internal import operator


def policy_view(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "policyKRN": policy.policy_krn,
            "CreationDate": iso(policy.created_at), "UpdateDate": iso(policy.updated_at),
            "_id": policy.policy_id, "accountId": policy.account_id,
            "statements": policy.statements, "conditions": policy.conditions,
            "users": policy.users}


def payload(body: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """The writable PolicyPayload fields, type-checked; the service validates their content."""
    return {"name": field(body, "name", str, required=create, max_length=255),
            "statements": field(body, "statements", list, required=create),
            "conditions": field(body, "conditions", list)}


async def list_policies(request: Request) -> Response:
    caller = await operator(request)
    query = request.query_params
    policies = await kosha(request).policies.list(caller, account_id=query.get("accountId"),
                                                  name=query.get("name"))
    return ok([policy_view(p) for p in policies])


async def find_policy(request: Request) -> Response:
    caller = await operator(request)
    query = request.query_params
    ref = query.get("policyKRN") or query.get("policyKrn") or query.get("policyId")
    if ref:
        return ok(policy_view(await kosha(request).policies.get(caller, ref, query.get("accountId"))))
    name = query.get("name")
    if not name:
        raise Invalid("name the policy with ?policyKRN= or ?name= (and ?accountId=); "
                      "GET /internal/kos/v1/policies lists them")
    found = await kosha(request).policies.list(caller, account_id=query.get("accountId"), name=name)
    if not found:
        raise NotFound(f"policy {name!r} not found")
    if len(found) > 1:
        raise Invalid(f"{len(found)} accounts have a policy named {name!r}: add ?accountId=")
    return ok(policy_view(found[0]))


async def create_policy(request: Request) -> Response:
    caller = await operator(request)
    body = await json_body(request)
    policy = await kosha(request).policies.create(
        caller, account_id=field(body, "accountId", str, max_length=32),
        **payload(body, create=True))
    return ok(policy_view(policy), status=201)


async def get_policy(request: Request) -> Response:
    caller = await operator(request)
    policy = await kosha(request).policies.get(caller, request.path_params["policykrn"])
    return ok(policy_view(policy))


async def update_policy(request: Request) -> Response:
    caller = await operator(request)
    body = await json_body(request)
    policy = await kosha(request).policies.update(caller, request.path_params["policykrn"],
                                                  **payload(body, create=False))
    return ok(policy_view(policy))


async def delete_policy(request: Request) -> Response:
    caller = await operator(request)
    await kosha(request).policies.delete(caller, request.path_params["policykrn"])
    return no_content()


async def link(request: Request, caller: Principal, attach: bool,
               account_id: str | None = None) -> Response:
    """Attach or detach. With `account_id` (the account admin's routes), users are named by
    kcid, and looked for in that account only."""
    body = await json_body(request)
    refs = field(body, "policyKRNs", list, required=True)
    users = field(body, "users", list, required=True)
    if account_id is not None:
        if not all(isinstance(k, str) and k for k in users):
            raise Unprocessable("'users' must be a list of kcids (strings)")
        users = [{"kcid": k, "accountId": account_id} for k in users]
    service = kosha(request).policies
    policies = await (service.attach if attach else service.detach)(caller, refs, users, account_id)
    answer: dict[str, Any] = policy_view(policies[0]) if len(policies) == 1 else {}
    answer.update({"message": f"policies {'attached' if attach else 'detached'}",
                   "policies": [policy_view(p) for p in policies]})
    return ok(answer)


async def attach(request: Request) -> Response:
    return await link(request, await operator(request), attach=True)


async def detach(request: Request) -> Response:
    return await link(request, await operator(request), attach=False)


routes = [
    Route("/internal/kos/v1/policy", find_policy, methods=["GET"]),
    Route("/internal/kos/v1/policies", list_policies, methods=["GET"]),
    Route("/internal/kos/v1/policy", create_policy, methods=["POST"]),
    Route("/internal/kos/v1/policy/attach", attach, methods=["POST"]),
    Route("/internal/kos/v1/policy/detach", detach, methods=["POST"]),
    Route("/internal/kos/v1/policy/{policykrn}", get_policy, methods=["GET"]),
    Route("/internal/kos/v1/policy/{policykrn}", update_policy, methods=["PUT"]),
    Route("/internal/kos/v1/policy/{policykrn}", delete_policy, methods=["DELETE"]),
]
