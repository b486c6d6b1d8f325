"""Where Kosha's documented answers differ from the published reference's schemas, the served
`/openapi.json` says what Kosha does (each change marked `x-kosha-extension`), so that a client
generated from it, or a fuzzer checking answers against it, is told the truth.

- Bucket creation needs a `name`, which follows S3's rules (docs/api-notes.md), and tags are
  strings: said in the schema, a generator makes valid bodies, and deliberately invalid ones,
  instead of only bodies the server refuses.
- `GET /internal/kos/v1/policy` (getPolicy) names its policy with query parameters, which the
  reference leaves out; `GET /internal/kos/v1/policies` lists them (docs/extensions.md).
"""

from __future__ import annotations

from typing import Any

EXT = {"x-kosha-extension": True}
_BUCKET_NAME = {"minLength": 3, "maxLength": 63, "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", **EXT}


def correct(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    creation = schemas.get("BucketCreationPayload", {})
    if "name" in creation.get("properties", {}):
        creation["properties"]["name"].update(_BUCKET_NAME)
        creation["required"] = sorted({*creation.get("required", []), "name"})
    for payload in ("BucketCreationPayload", "BucketUpdatePayload"):
        tags = schemas.get(payload, {}).get("properties", {}).get("tags")
        if tags is not None:
            tags.update({"additionalProperties": {"type": "string"}, **EXT})
    get_policy = doc["paths"].get("/internal/kos/v1/policy", {}).get("get")
    if get_policy is not None:
        get_policy["parameters"] = [
            {"in": "query", "name": name, "required": False, "schema": {"type": "string"},
             "description": description, **EXT}
            for name, description in (("policyKRN", "the policy's KRN or id"),
                                      ("name", "the policy's name"),
                                      ("accountId", "the account, where names repeat"))]
