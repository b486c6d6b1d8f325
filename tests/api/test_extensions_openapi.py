"""Every KOS extension route is listed in /openapi.json and marked x-kosha-extension."""

from __future__ import annotations

from typing import Any

import pytest

BUCKET = "/kos/v1/buckets/{bucketId}"
EXTENSIONS = [
    ("/kos/v1/account", "get"),
    (BUCKET + "/uploads", "post"),
    (BUCKET + "/uploads", "get"),
    (BUCKET + "/uploads/{uploadId}", "get"),
    (BUCKET + "/uploads/{uploadId}", "delete"),
    (BUCKET + "/uploads/{uploadId}/parts/{partNumber}", "put"),
    (BUCKET + "/uploads/{uploadId}/complete", "post"),
    (BUCKET + "/objects/versions", "get"),
    (BUCKET + "/objects/restore", "post"),
    ("/kos/v1/account/users", "get"),
    ("/kos/v1/account/users", "post"),
    ("/kos/v1/account/users/{kcid}", "put"),
    ("/kos/v1/account/users/{kcid}", "delete"),
    ("/kos/v1/account/policies", "get"),
    ("/kos/v1/account/policies", "post"),
    ("/kos/v1/account/policies/{policyKrn}", "get"),
    ("/kos/v1/account/policies/{policyKrn}", "put"),
    ("/kos/v1/account/policies/{policyKrn}", "delete"),
    ("/kos/v1/account/policies/attach", "post"),
    ("/kos/v1/account/policies/detach", "post"),
    ("/kos/v1/account/policies/validate", "post"),
    ("/kos/v1/account/simulate", "post"),
]


@pytest.fixture(scope="module")
def document(server: Any) -> dict[str, Any]:
    with server.http() as client:
        return dict(client.get("/openapi.json").json())


@pytest.mark.parametrize(("path", "method"), EXTENSIONS)
def test_each_extension_route_is_documented_and_marked(document: dict[str, Any], path: str,
                                                       method: str) -> None:
    operation = document["paths"][path][method]
    assert operation["x-kosha-extension"] is True
    assert operation["summary"] and operation["tags"]
    assert {"200", "201", "204"} & set(operation["responses"])


@pytest.mark.parametrize(("schema", "field"), [("downloadObject_request", "versionId"),
                                               ("downloadObject_request", "expiresIn"),
                                               ("getObject_request", "versionId"),
                                               ("deleteObject_request", "versionId"),
                                               ("moveObject_request", "destinationBucket"),
                                               ("BucketUpdatePayload", "allocatedCapacity")])
def test_added_body_fields_are_marked(document: dict[str, Any], schema: str, field: str) -> None:
    assert document["components"]["schemas"][schema]["properties"][field]["x-kosha-extension"] is True


def test_versions_list_every_key_when_no_key_is_given(document: dict[str, Any]) -> None:
    operation = document["paths"][BUCKET + "/objects/versions"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["key"]["required"] is False and "prefix" in params
