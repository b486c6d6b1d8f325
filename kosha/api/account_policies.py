"""KOS REST (Kosha's extension): an account admin's own policies, `/kos/v1/account/policies...`.

The same policies, and the same answers, as the operator's `/internal/kos/v1/policy` family
(api.policies), confined to the caller's account: members get 403, another account's policy or
user 404 (services.policies). Attach and detach name users by kcid. `POST /kos/v1/account/simulate`
asks the evaluator that enforces requests about one user, action and resource. See
docs/extensions.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import Invalid
from ..services.authz import Statement
from .common import field, json_body, kosha, no_content, ok, principal
from .objects import MAX_KEY_FIELD
from .policies import link, payload, policy_view

BASE = "/kos/v1/account/policies"
ONE = BASE + "/{policyKrn}"


async def list_policies(request: Request) -> Response:
    who = await principal(request)
    return ok([policy_view(p) for p in await kosha(request).policies.list(who, account_id=who.account_id)])


async def create_policy(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    policy = await kosha(request).policies.create(who, account_id=who.account_id,
                                                  **payload(body, create=True))
    return ok(policy_view(policy), status=201)


async def get_policy(request: Request) -> Response:
    who = await principal(request)
    policy = await kosha(request).policies.get(who, request.path_params["policyKrn"], who.account_id)
    return ok(policy_view(policy))


async def update_policy(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    policy = await kosha(request).policies.update(who, request.path_params["policyKrn"],
                                                  account_id=who.account_id,
                                                  **payload(body, create=False))
    return ok(policy_view(policy))


async def delete_policy(request: Request) -> Response:
    who = await principal(request)
    await kosha(request).policies.delete(who, request.path_params["policyKrn"], who.account_id)
    return no_content()


async def attach(request: Request) -> Response:
    who = await principal(request)
    return await link(request, who, True, who.account_id)


async def detach(request: Request) -> Response:
    who = await principal(request)
    return await link(request, who, False, who.account_id)


async def validate(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    statements = kosha(request).policies.validate(who, body.get("statements"), body.get("conditions"))
    return ok({"valid": True, "statements": statements})


def _statement_view(statement: Statement | None) -> dict[str, Any] | None:
    if statement is None:
        return None
    return {"policyKRN": statement.policy_krn, "policyName": statement.policy_name,
            "index": statement.index, "effect": statement.effect, "actions": statement.actions,
            "resources": statement.resources}


async def simulate(request: Request) -> Response:
    who = await principal(request)
    body = await json_body(request)
    if body.get("resource") is None and body.get("bucket") is None:
        raise Invalid("name the 'resource' (a KRN), or a 'bucket' and optional 'key'")
    result = await kosha(request).policies.simulate(
        who, action=body.get("action"), kcid=field(body, "kcid", str, max_length=64),
        resource=body.get("resource"), bucket=field(body, "bucket", str, max_length=2048),
        key=field(body, "key", str, max_length=MAX_KEY_FIELD))
    verdict = result.decision
    return ok({"allowed": verdict.allowed, "decision": verdict.decision, "reason": verdict.reason,
               "statement": _statement_view(verdict.statement), "kcid": result.kcid,
               "action": result.action, "resource": result.resource})


routes = [
    Route("/kos/v1/account/simulate", simulate, methods=["POST"]),
    Route(BASE, list_policies, methods=["GET"]),
    Route(BASE, create_policy, methods=["POST"]),
    Route(BASE + "/attach", attach, methods=["POST"]),
    Route(BASE + "/detach", detach, methods=["POST"]),
    Route(BASE + "/validate", validate, methods=["POST"]),
    Route(ONE, get_policy, methods=["GET"]),
    Route(ONE, update_policy, methods=["PUT"]),
    Route(ONE, delete_policy, methods=["DELETE"]),
]
