"""OpenAPI `links` for `/openapi.json`: which answer feeds which request.

The published reference has none, so a generated client or a stateful fuzzer (schemathesis)
cannot tell that the `bucketName` a bucket's creation answers is the `{bucketId}` of every
bucket route, or that an upload's `objectKey` is what download, metadata, move and delete take.
Links are documentation only: they change no route. Each is marked `x-kosha-extension`.
"""

from __future__ import annotations

from typing import Any

EXT = {"x-kosha-extension": True}
_B = "/kos/v1/buckets/{bucketId}"
_UPLOAD = _B + "/uploads/{uploadId}"
_SAME_BUCKET = {"path.bucketId": "$request.path.bucketId"}


def _ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _link(path: str, method: str, parameters: dict[str, str] | None = None,
          body: dict[str, Any] | None = None) -> dict[str, Any]:
    link: dict[str, Any] = {"operationRef": _ref(path, method), **EXT}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


def _bucket_links(paths: dict[str, Any]) -> dict[str, Any]:
    """From a created bucket to every route that takes a bucket (by name or by KRN)."""
    links: dict[str, Any] = {}
    for path, item in paths.items():
        for method in item:
            if method not in {"get", "put", "post", "delete"}:
                continue
            name = f"{method}{path.replace(_B, '').replace('/', '_').replace('{', '').replace('}', '')}"
            if "{bucketId}" in path:
                links["bucket_" + name] = _link(path, method, {"path.bucketId": "$response.body#/bucketName"})
            elif "{bucketKrn}" in path:
                links["bucket_" + name] = _link(path, method, {"path.bucketKrn": "$response.body#/krn"})
    return links


def _object_links() -> dict[str, Any]:
    key = "$response.body#/objectKey"
    return {
        "download": _link(_B + "/objects/download", "post", _SAME_BUCKET, {"objectkey": key}),
        "metadata": _link(_B + "/objects/metadata", "post", _SAME_BUCKET, {"objectkey": key}),
        "delete": _link(_B + "/objects/delete", "post", _SAME_BUCKET, {"objectkey": key}),
        "move": _link(_B + "/objects/move", "post", _SAME_BUCKET, {"sourceKey": key}),
        "rename": _link(_B + "/objects/rename", "post", _SAME_BUCKET, {"oldKey": key}),
        "versions": _link(_B + "/objects/versions", "get", {**_SAME_BUCKET, "query.key": key}),
    }


def _version_links() -> dict[str, Any]:
    version = {"objectkey": "$response.body#/versions/0/key",
               "versionId": "$response.body#/versions/0/versionId"}
    return {op: _link(_B + f"/objects/{op}", "post", _SAME_BUCKET, version)
            for op in ("restore", "download", "metadata", "delete")}


def _multipart_links() -> dict[str, Any]:
    upload = {**_SAME_BUCKET, "path.uploadId": "$response.body#/uploadId"}
    return {
        "get": _link(_UPLOAD, "get", upload),
        "abort": _link(_UPLOAD, "delete", upload),
        "part": _link(_UPLOAD + "/parts/{partNumber}", "put", upload),
        "complete": _link(_UPLOAD + "/complete", "post", upload),
    }


def _part_links() -> dict[str, Any]:
    same = {**_SAME_BUCKET, "path.uploadId": "$request.path.uploadId"}
    parts = {"parts": [{"partNumber": "$response.body#/partNumber", "etag": "$response.body#/etag"}]}
    return {"complete": _link(_UPLOAD + "/complete", "post", same, parts)}


def _rule_links() -> dict[str, Any]:
    rule = {**_SAME_BUCKET, "path.ruleId": "$response.body#/id"}
    path = _B + "/lifecycle-rules/{ruleId}"
    return {"get": _link(path, "get", rule), "update": _link(path, "put", rule),
            "delete": _link(path, "delete", rule),
            "preview": _link(_B + "/lifecycle-rules/preview", "get",
                             {**_SAME_BUCKET, "query.rule": "$response.body#/id"})}


def _policy_links(base: str, param: str) -> dict[str, Any]:
    krn = "$response.body#/policyKRN"
    one = base + "/{" + param + "}"
    return {"get": _link(one, "get", {f"path.{param}": krn}),
            "update": _link(one, "put", {f"path.{param}": krn}),
            "delete": _link(one, "delete", {f"path.{param}": krn}),
            "attach": _link(base + "/attach", "post", body={"policyKRNs": [krn]}),
            "detach": _link(base + "/detach", "post", body={"policyKRNs": [krn]})}


def _bucket_policy_links() -> dict[str, Any]:
    path, same = "/kos/v1/buckets/policy/{bucketKrn}", {"path.bucketKrn": "$request.path.bucketKrn"}
    return {m: _link(path, m, same) for m in ("get", "put", "delete")}


def _access_key_links() -> dict[str, Any]:
    return {
        "delete": _link("/kos/v1/access_keys/{accessKey}", "delete",
                        {"path.accessKey": "$response.body#/access_key"}),
        "activate": _link("/kos/v1/sessions/activate", "post", body={
            "accessKey": "$response.body#/access_key", "secretKey": "$response.body#/secret_key"}),
    }


def _session_links() -> dict[str, Any]:
    token = {"path.sessionToken": "$response.body#/sessionToken"}
    return {
        "status": _link("/kos/v1/sessions/status/{sessionToken}", "get", token),
        "refresh": _link("/kos/v1/sessions/refresh/{sessionToken}", "post", token,
                         {"refreshToken": "$response.body#/refreshToken"}),
        "deactivate": _link("/kos/v1/sessions/deactivate/{sessionToken}", "delete", token),
    }


def _user_links() -> dict[str, Any]:
    kcid = {"path.kcid": "$response.body#/kcid"}
    return {"update": _link("/kos/v1/account/users/{kcid}", "put", kcid),
            "delete": _link("/kos/v1/account/users/{kcid}", "delete", kcid)}


def _account_links() -> dict[str, Any]:
    account = {"path.accountId": "$response.body#/account_id"}
    base = "/internal/kos/v1/accounts/{accountId}"
    return {"get": _link(base, "get", account), "users": _link(base + "/users", "get", account),
            "user": _link(base + "/users", "post", account), "mfa": _link(base + "/mfa", "post", account)}


def add_links(doc: dict[str, Any]) -> None:
    """Attach the links to the answers of `doc` (the served document, extensions included)."""
    paths = doc["paths"]
    sources = [
        ("/kos/v1/buckets", "post", "201", _bucket_links(paths)),
        (_B + "/objects", "put", "201", _object_links()),
        (_B + "/objects/versions", "get", "200", _version_links()),
        (_B + "/uploads", "post", "201", _multipart_links()),
        (_UPLOAD + "/parts/{partNumber}", "put", "200", _part_links()),
        (_B + "/lifecycle-rules", "post", "201", _rule_links()),
        ("/internal/kos/v1/policy", "post", "201", _policy_links("/internal/kos/v1/policy", "policykrn")),
        ("/kos/v1/account/policies", "post", "201", _policy_links("/kos/v1/account/policies", "policyKrn")),
        ("/kos/v1/buckets/policy/{bucketKrn}", "post", "201", _bucket_policy_links()),
        ("/kos/v1/access_keys", "post", "201", _access_key_links()),
        ("/kos/v1/sessions/activate", "post", "200", _session_links()),
        ("/kos/v1/account/users", "post", "201", _user_links()),
        ("/internal/kos/v1/accounts", "post", "201", _account_links()),
    ]
    for path, method, status, links in sources:
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            targets = {name: link for name, link in links.items() if _exists(paths, link)}
            response.setdefault("links", {}).update(targets)


def _exists(paths: dict[str, Any], link: dict[str, Any]) -> bool:
    path, method = link["operationRef"][len("#/paths/"):].rsplit("/", 1)
    return method in paths.get(path.replace("~1", "/").replace("~0", "~"), {})

