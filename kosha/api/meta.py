"""Operational endpoints, without authentication: `/healthz`, `/readyz`, `/openapi.json`, `/docs`,
`/metrics`.

`/openapi.json` is the published reference (`kosha/spec/kos-openapi.json`) plus Kosha's
extensions, each marked `"x-kosha-extension": true`: the operator's accounts/users/MFA routes,
the multipart/form-data upload, listing pagination, and these endpoints themselves.
`/metrics` is Prometheus text (`kosha.metrics`): requests, latency and bytes of both ports, uploads
in flight, bucket usage, background runs, authentication outcomes and uptime.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .. import metrics as prom
from ..services import usage
from .common import kosha
from .openapi_corrections import correct
from .openapi_links import add_links

SPEC = Path(__file__).resolve().parent.parent / "spec" / "kos-openapi.json"
EXT = {"x-kosha-extension": True}


# -- the document -----------------------------------------------------------------------------


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, tag: str, responses: dict[str, Any], body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses, **EXT}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}


def _query_param(name: str, kind: str, description: str) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "schema": {"type": kind},
            "description": description, **EXT}


_ACCOUNT = {"type": "object", "properties": {
    "account_id": {"type": "string"}, "name": {"type": "string"},
    "mfa_enabled": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"}}}
_USER = {"type": "object", "properties": {
    "kcid": {"type": "string"}, "krn": {"type": "string"}, "account_id": {"type": "string"},
    "name": {"type": "string"}, "admin": {"type": "boolean"},
    "access_key": {"type": "string", "description": "first access key (create only)"},
    "secret_key": {"type": "string", "description": "its secret, shown once (create only)"}}}
_OPERATOR_ONLY = {"401": {"description": "no credentials"},
                  "403": {"description": "not the operator"}}


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_ERRORS = {"401": {"description": "no credentials"},
           "403": {"description": "a member without a policy allowing it"},
           "404": {"description": "unknown, or another account's"}}


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


_WHOAMI = _obj(account_id=_STR, account_name=_STR, kcid=_STR, user_name=_STR, krn=_STR,
               admin=_BOOL, operator=_BOOL, mfa_enabled=_BOOL,
               access_key={"type": "string", "nullable": True})
_UPLOAD = _obj(uploadId=_STR, objectKey=_STR, initiated={"type": "string", "format": "date-time"})
_PART = _obj(partNumber=_INT, etag=_STR, size=_INT)
_VERSION = _obj(key=_STR, versionId=_STR, isLatest=_BOOL, isDeleteMarker=_BOOL, size_bytes=_INT,
                etag={"type": "string", "nullable": True},
                lastModified={"type": "string", "format": "date-time"})


def _object_extension_paths() -> dict[str, Any]:
    """Multipart uploads over REST and object versions (docs/extensions.md)."""
    bucket, upload = [_path_param("bucketId")], [_path_param("bucketId"), _path_param("uploadId")]
    uploads = "/kos/v1/buckets/{bucketId}/uploads"
    part = _op("Upload one part (the raw bytes; every part but the last at least 5 MiB)",
               "Multipart uploads", {"200": _json(_PART, "the part"), **_ERRORS},
               params=[*upload, {**_path_param("partNumber"), "schema": _INT}])
    part["requestBody"] = {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}
    return {
        uploads: {
            "post": _op("Start a multipart upload", "Multipart uploads",
                        {"201": _json(_obj(uploadId=_STR, objectKey=_STR), "started"), **_ERRORS},
                        body=_obj(objectkey=_STR, contentType=_STR), params=bucket),
            "get": _op("List a bucket's multipart uploads in progress", "Multipart uploads",
                       {"200": _json(_obj(uploads={"type": "array", "items": _UPLOAD}), "uploads"),
                        **_ERRORS},
                       params=[*bucket, _query_param("prefix", "string", "only keys with this prefix")]),
        },
        uploads + "/{uploadId}": {
            "get": _op("An upload and its parts (to resume it)", "Multipart uploads",
                       {"200": _json({**_UPLOAD, "properties": {
                           **_UPLOAD["properties"], "parts": {"type": "array", "items": _PART}}},
                           "the upload"), **_ERRORS}, params=upload),
            "delete": _op("Abort an upload (its parts are deleted)", "Multipart uploads",
                          {"204": {"description": "aborted"}, **_ERRORS}, params=upload),
        },
        uploads + "/{uploadId}/parts/{partNumber}": {"put": part},
        uploads + "/{uploadId}/complete": {
            "post": _op("Complete an upload from the parts chosen", "Multipart uploads",
                        {"200": _json(_obj(objectKey=_STR, etag=_STR, versionId=_STR), "the object"),
                         "400": {"description": "a part missing, or too small"}, **_ERRORS},
                        body=_obj(parts={"type": "array", "items": _obj(partNumber=_INT, etag=_STR)}),
                        params=upload),
        },
        "/kos/v1/buckets/{bucketId}/objects/versions": {
            "get": _op("One object's versions newest first; without key, every version under "
                       "prefix, by key then newest first", "Objects",
                       {"200": _json(_obj(objectKey=_STR, prefix=_STR,
                                          versions={"type": "array", "items": _VERSION},
                                          isTruncated=_BOOL,
                                          nextContinuationToken={"type": "string", "nullable": True}),
                                     "the versions (objectKey with key, prefix without)"), **_ERRORS},
                       params=[*bucket, _query_param("key", "string", "the object key"),
                               _query_param("prefix", "string", "without key: only keys with this prefix"),
                               *_LISTING_PARAMS]),
        },
        "/kos/v1/buckets/{bucketId}/objects/restore": {
            "post": _op("Make an older version current again (no bytes copied)", "Objects",
                        {"200": _json(_obj(message=_STR, objectKey=_STR, versionId=_STR),
                                      "the new current version"),
                         "422": {"description": "the version is a delete marker"}, **_ERRORS},
                        body=_obj(objectkey=_STR, versionId=_STR), params=bucket),
        },
    }


_TALLY = _obj(objects=_INT, bytes=_INT, noncurrentVersions=_INT, noncurrentBytes=_INT, deleteMarkers=_INT,
              uploads=_INT, uploadBytes=_INT)
_DUE_ITEM = _obj(key=_STR, versionId={"type": "string", "nullable": True}, uploadId=_STR,
                 kind={"type": "string", "enum": ["object", "noncurrentVersion", "deleteMarker", "upload"]},
                 size=_INT, dueAt={"type": "string", "format": "date-time"})
_PREVIEW = _obj(bucket=_STR, asOf={"type": "string", "format": "date-time"}, days=_INT, rules={
    "type": "array", "items": _obj(
        id=_STR, name=_STR, prefix=_STR, enabled=_BOOL,
        timeline={"type": "array", "items": {**_TALLY, "properties": {
            "date": {"type": "string", "format": "date"}, **_TALLY["properties"]}}},
        totals=_TALLY, sample={"type": "array", "items": _DUE_ITEM, "maxItems": 100})})


def _lifecycle_preview_paths() -> dict[str, Any]:
    """What the lifecycle rules will act on, by day (docs/extensions.md)."""
    days = {**_query_param("days", "integer", "the window: today and the next N days (UTC dates)"),
            "schema": {"type": "integer", "minimum": 0, "maximum": 3650, "default": 30}}
    return {"/kos/v1/buckets/{bucketId}/lifecycle-rules/preview": {"get": {
        **_op("What each lifecycle rule will expire or abort within N days, by day", "Lifecycle",
              {"200": _json(_PREVIEW, "the forecast"), "400": {"description": "days outside 0..3650"},
               **_ERRORS},
              params=[_path_param("bucketId"), days, _query_param("rule", "string", "only this rule (its id)")]),
        "description": (
            "Computed by the expiry worker's own selections. Day 0 is today (UTC) and also holds what "
            "is already due; only days with something due are listed. The totals up to a date are "
            "what one worker run at the end of that date would remove from the bucket as it is now "
            "(what the worker's own changes lead to later is not forecast). Each rule is forecast on "
            "its own. `sample`: the first 100 items due. Needs kos:GetLifecycle.")}}}


# Fields Kosha adds to published request bodies (their component schema's name -> fields).
_BODY_FIELDS = {
    "downloadObject_request": {
        "versionId": {**_STR, "description": "that version of the object", **EXT},
        "expiresIn": {"type": "integer", "minimum": 1, "maximum": 604800, **EXT,
                      "description": "lifetime of preSignedUrl in seconds (a share link)"}},
    "getObject_request": {"versionId": {**_STR, "description": "that version", **EXT}},
    "deleteObject_request": {"versionId": {**_STR, **EXT,
                                           "description": "delete that version permanently"}},
    "moveObject_request": {"destinationBucket": {**_STR, **EXT, "description": (
        "another bucket of the caller's account (name or KRN): the copy or move goes there, "
        "still without copying bytes")}},
    "moveObject_200_response": {"destinationBucket": {**_STR, **EXT,
                                                      "description": "as sent, when sent"}},
    "BucketUpdatePayload": {"allocatedCapacity": {
        "type": "integer", "minimum": 0, "nullable": True, **EXT, "description": (
            "the quota in bytes, null for none; below the bytes stored it refuses new writes and "
            "removes nothing")}},
}


_MEMBER = {"type": "object", "properties": {**_USER["properties"], "policies": {
    "type": "array", "items": _STR, "description": "KRNs of the policies attached"}}}
_POLICY = _obj(name=_STR, policyKRN=_STR, _id=_STR, accountId=_STR,
               statements={"type": "array", "items": {"type": "object"}},
               conditions={"type": "array", "items": {"type": "object"}},
               users={"type": "array", "items": _STR})
_POLICY_BODY = _obj(name=_STR, statements={"type": "array", "items": {"type": "object"}},
                    conditions={"type": "array", "items": {"type": "object"}})
_LINK = _obj(policyKRNs={"type": "array", "items": _STR},
             users={"type": "array", "items": _STR, "description": "kcids"})
_ADMIN_ERRORS = {"401": {"description": "no credentials"},
                 "403": {"description": "not an admin of the account"}}
_ADMIN_404 = {**_ADMIN_ERRORS, "404": {"description": "unknown, or another account's"}}


def _account_extension_paths() -> dict[str, Any]:
    """The caller's own account: who am I, and an admin's users and policies (docs/extensions.md)."""
    users, policies = "/kos/v1/account/users", "/kos/v1/account/policies"
    kcid, krn = [_path_param("kcid")], [_path_param("policyKrn")]
    link = _json(_obj(message=_STR, policies={"type": "array", "items": _POLICY}), "the policies")
    return {
        "/kos/v1/account": {
            "get": _op("Who am I", "Account", {"200": _json(_WHOAMI, "the caller"),
                                               "401": {"description": "no credentials"}}),
        },
        users: {
            "get": _op("The account's users", "Account",
                       {"200": _json({"type": "array", "items": _MEMBER}, "users"), **_ADMIN_ERRORS}),
            "post": _op("Create a user (and its first access key, shown once)", "Account",
                        {"201": _json(_MEMBER, "created"), **_ADMIN_ERRORS},
                        body=_obj(name=_STR, admin=_BOOL)),
        },
        users + "/{kcid}": {
            "put": _op("Make a user an admin or a member", "Account",
                       {"200": _json(_MEMBER, "the user"), "409": {"description": "yourself"},
                        **_ADMIN_404}, body=_obj(admin=_BOOL), params=kcid),
            "delete": _op("Delete a user: its keys and sessions end, its policies are detached",
                          "Account", {"204": {"description": "deleted"},
                                      "409": {"description": "yourself"}, **_ADMIN_404},
                          params=kcid),
        },
        policies: {
            "get": _op("The account's policies", "Account",
                       {"200": _json({"type": "array", "items": _POLICY}, "policies"),
                        **_ADMIN_ERRORS}),
            "post": _op("Create a policy", "Account",
                        {"201": _json(_POLICY, "created"), "409": {"description": "name taken"},
                         "422": {"description": "malformed statements"}, **_ADMIN_ERRORS},
                        body=_POLICY_BODY),
        },
        policies + "/{policyKrn}": {
            "get": _op("A policy", "Account", {"200": _json(_POLICY, "the policy"), **_ADMIN_404},
                       params=krn),
            "put": _op("Change a policy's given fields", "Account",
                       {"200": _json(_POLICY, "the policy"), **_ADMIN_404},
                       body=_POLICY_BODY, params=krn),
            "delete": _op("Delete a policy (detached from everyone)", "Account",
                          {"204": {"description": "deleted"}, **_ADMIN_404}, params=krn),
        },
        policies + "/attach": {
            "post": _op("Attach policies to users", "Account", {"200": link, **_ADMIN_404},
                        body=_LINK),
        },
        policies + "/detach": {
            "post": _op("Detach policies from users", "Account", {"200": link, **_ADMIN_404},
                        body=_LINK),
        },
        "/kos/v1/account/simulate": {
            "post": _op("May a user do an action on a resource, and which statement decides",
                        "Account",
                        {"200": _json(_obj(
                            allowed=_BOOL, reason=_STR, kcid=_STR, action=_STR, resource=_STR,
                            decision={"type": "string", "enum": [
                                "admin", "allow", "explicit-deny", "implicit-deny", "other-account"]},
                            statement={**_obj(policyKRN=_STR, policyName=_STR, index=_INT, effect=_STR,
                                              actions={"type": "array", "items": _STR},
                                              resources={"type": "array", "items": _STR}),
                                       "nullable": True}), "the decision"),
                         "422": {"description": "not an action name, or not a KRN"}, **_ADMIN_404},
                        body=_obj(kcid={**_STR, "description": "default: the caller"},
                                  action={**_STR, "example": "kos:GetObject"},
                                  resource={**_STR, "description": "a KRN; or bucket and key"},
                                  bucket=_STR, key=_STR)),
        },
        policies + "/validate": {
            "post": _op("Check statements without saving them", "Account",
                        {"200": _json(_obj(valid=_BOOL, statements={
                            "type": "array", "items": {"type": "object"}}), "normalised"),
                         "422": {"description": "the message names the bad field"},
                         **_ADMIN_ERRORS},
                        body=_obj(statements={"type": "array", "items": {"type": "object"}},
                                  conditions={"type": "array", "items": {"type": "object"}})),
        },
    }


_CONSOLE_SESSION = _json({"type": "object", "properties": {
    "csrfToken": {"type": "string", "description": "send as X-CSRF-Token with every KOS call"},
    "expiresAt": {"type": "string", "format": "date-time"}}}, "the session's CSRF token")


def _console_paths() -> dict[str, Any]:
    """The web console's sign-in routes (docs/console.md); the console's pages are not listed."""
    credentials = {"type": "object", "required": ["accessKey", "secretKey"], "properties": {
        "accessKey": {"type": "string"}, "secretKey": {"type": "string"}}}
    return {
        "/console/api/login": {"post": _op(
            "Sign in to the console: sets the HttpOnly kosha_session cookie", "Console",
            {"200": _CONSOLE_SESSION, "401": {"description": "wrong key or secret"},
             "403": {"description": "sent from another origin"}}, body=credentials)},
        "/console/api/logout": {"post": _op(
            "Sign out: ends the session and clears the cookie (needs X-CSRF-Token)", "Console",
            {"204": {"description": "signed out"}, "403": {"description": "no valid X-CSRF-Token"}})},
        "/console/api/session": {"get": _op(
            "The console session's CSRF token, after a page reload", "Console",
            {"200": _CONSOLE_SESSION, "401": {"description": "no live session"}})},
    }


_NOTIFY_CONFIG = _obj(
    id=_STR, type={"type": "string", "enum": ["queue", "topic", "function"]},
    arn={**_STR, "example": "arn:kosha:sqs:In-Bangalore-1:hooks:webhook"},
    events={"type": "array", "items": {**_STR, "example": "s3:ObjectCreated:*"}},
    prefix=_STR, suffix=_STR)
_NOTIFY_BODY = _obj(configurations={"type": "array", "items": _NOTIFY_CONFIG})


def _notification_paths() -> dict[str, Any]:
    """A bucket's event notification configuration, and the operator's targets
    (docs/notifications.md)."""
    bucket = [_path_param("bucketId")]
    return {
        "/kos/v1/buckets/{bucketId}/notifications": {
            "get": _op("The bucket's event notification configuration", "Notifications",
                       {"200": _json(_NOTIFY_BODY, "the configuration"), **_ERRORS}, params=bucket),
            "put": _op("Replace the bucket's event notification configuration (an empty list "
                       "removes it)", "Notifications",
                       {"200": _json(_NOTIFY_BODY, "the configuration saved"),
                        "400": {"description": "an ARN no target has, or an unknown event"},
                        **_ERRORS}, body=_NOTIFY_BODY, params=bucket),
        },
        "/internal/kos/v1/notification-targets": {
            "get": _op("The notification targets the server was started with, and their ARNs",
                       "Notifications",
                       {"200": _json(_obj(targets={"type": "array", "items": _obj(
                           id=_STR, kind=_STR, arn=_STR, url={**_STR, "description":
                                                              "secrets masked"})}), "targets"),
                        **_OPERATOR_ONLY}),
        },
    }


def _extension_paths() -> dict[str, Any]:
    account = [_path_param("accountId")]
    return {
        **_object_extension_paths(),
        **_account_extension_paths(),
        **_lifecycle_preview_paths(),
        **_notification_paths(),
        "/internal/kos/v1/policies": {
            "get": _op("List identity policies (of accountId, named name, when given)", "Policies",
                       {"200": _json({"type": "array", "items": _POLICY}, "policies"),
                        **_OPERATOR_ONLY},
                       params=[_query_param("accountId", "string", "only this account's"),
                               _query_param("name", "string", "only policies of this name")]),
        },
        "/internal/kos/v1/accounts": {
            "get": _op("List accounts", "Accounts",
                       {"200": _json({"type": "array", "items": _ACCOUNT}, "accounts"), **_OPERATOR_ONLY}),
            "post": _op("Create an account", "Accounts",
                        {"201": _json(_ACCOUNT, "created"), **_OPERATOR_ONLY},
                        body={"type": "object", "required": ["name"],
                              "properties": {"name": {"type": "string"}}}),
        },
        "/internal/kos/v1/accounts/{accountId}": {
            "get": _op("Get an account", "Accounts",
                       {"200": _json(_ACCOUNT, "the account"), "404": {"description": "unknown"},
                        **_OPERATOR_ONLY}, params=account),
        },
        "/internal/kos/v1/accounts/{accountId}/users": {
            "get": _op("List an account's users", "Accounts",
                       {"200": _json({"type": "array", "items": _USER}, "users"), **_OPERATOR_ONLY},
                       params=account),
            "post": _op("Create a user (and its first access key)", "Accounts",
                        {"201": _json(_USER, "created"), "404": {"description": "unknown account"},
                         **_OPERATOR_ONLY},
                        body={"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"}, "admin": {"type": "boolean"}}},
                        params=account),
        },
        "/internal/kos/v1/accounts/{accountId}/mfa": {
            "post": _op("Enable MFA (TOTP) for an account", "Accounts",
                        {"200": _json({"type": "object", "properties": {
                            "secret": {"type": "string"}, "otpauth_uri": {"type": "string"}}},
                            "the TOTP secret, shown once"), **_OPERATOR_ONLY}, params=account),
        },
        **_console_paths(),
        "/healthz": {"get": _op("Liveness", "Operations", {"200": {"description": "ok"}})},
        "/readyz": {"get": _op("Readiness: the database, the blob store and free space", "Operations",
                               {"200": _json(_READINESS, "every check passes"),
                                "503": _json(_READINESS, "a check failed (Retry-After)")})},
        "/metrics": {"get": _op("Prometheus metrics", "Operations",
                                {"200": {"description": "text/plain; version=0.0.4"}})},
    }


_CHECK = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["ok", "failed"]}, "error": {"type": "string"}},
    "additionalProperties": True}
_READINESS = {"type": "object", "required": ["status", "checks"], "properties": {
    "status": {"type": "string", "enum": ["ready", "unavailable"]},
    "checks": {"type": "object", "properties": {
        "database": _CHECK, "blobStore": _CHECK, "freeSpace": _CHECK}}}}

_MULTIPART_UPLOAD = {**EXT, "schema": {"type": "object", "properties": {
    "file": {"type": "array", "items": {"type": "string", "format": "binary"},
             "description": "one or more files; key = prefix + file name"},
    "prefix": {"type": "string"}}}}

_LISTING_PARAMS = [
    _query_param("max_keys", "integer", "page size (objects and common prefixes)"),
    _query_param("continuation_token", "string", "the nextContinuationToken of the previous page"),
]
_LISTING_FIELDS = {
    "isTruncated": {"type": "boolean", "description": "more entries follow", **EXT},
    "nextContinuationToken": {"type": "string", "nullable": True, **EXT,
                              "description": "pass as continuation_token for the next page"},
}


@cache
def openapi_document() -> dict[str, Any]:
    """The published reference with Kosha's extensions merged in (built once)."""
    doc = copy.deepcopy(json.loads(SPEC.read_text()))
    doc["paths"].update(_extension_paths())
    schemas = doc.get("components", {}).get("schemas", {})
    for name, fields in _BODY_FIELDS.items():
        if name in schemas:
            schemas[name].setdefault("properties", {}).update(fields)
    objects = doc["paths"].get("/kos/v1/buckets/{bucketId}/objects", {})
    if "put" in objects:
        objects["put"].setdefault("requestBody", {"content": {}})["content"][
            "multipart/form-data"] = _MULTIPART_UPLOAD
    if "get" in objects:
        objects["get"].setdefault("parameters", []).extend(_LISTING_PARAMS)
        listing = doc.get("components", {}).get("schemas", {}).get("listObjects_200_response")
        if listing is not None:
            listing.setdefault("properties", {}).update(_LISTING_FIELDS)
    correct(doc)
    add_links(doc)
    doc.setdefault("info", {})["x-kosha"] = (
        "Operations and fields marked x-kosha-extension are Kosha's additions to the published API.")
    return doc


_DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Kosha KOS API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"><p>Loading the API reference from
<a href="/openapi.json">/openapi.json</a>&hellip;</p></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>window.onload = () => SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>
"""


# -- handlers ---------------------------------------------------------------------------------


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    readiness = await kosha(request).health.readiness()
    body = {"status": "ready" if readiness.ready else "unavailable", "checks": readiness.checks}
    if readiness.ready:
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    return JSONResponse(body, status_code=503, headers={"Retry-After": "2", "Cache-Control": "no-store"})


async def openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


async def docs(_request: Request) -> Response:
    return HTMLResponse(_DOCS_HTML)


async def metrics(request: Request) -> Response:
    service = kosha(request)
    buckets = await usage.bucket_usage(service, prom.MAX_BUCKETS)
    scrape = prom.Scrape(auth=service.auth, limits=prom.LIMITS, buckets=buckets)
    return Response(prom.render(scrape), media_type="text/plain; version=0.0.4; charset=utf-8")


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
