"""Where Kosha's documented answers differ from the published reference's schemas, the served
`/openapi.json` says what Kosha does (each change marked `x-kosha-extension`), so that a client
generated from it, or a fuzzer checking answers against it, is told the truth.

- Bucket creation needs a `name`, which follows S3's rules (docs/api-notes.md), and tags are
  strings: said in the schema, a generator makes valid bodies, and deliberately invalid ones,
  instead of only bodies the server refuses.
- `nextPage` of the bucket listing is null on the last page (the reference types it integer,
  "if available").
- In an object listing, a folder (a common prefix, `isFolder: true`) has a null `lastModified`.
- `GET /internal/kos/v1/policy` lists the policies (filtered by `accountId` and `name`), as
  `GET /kos/v1/account/policies` does (docs/extensions.md); the reference describes one policy.
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
    next_page = schemas.get("BucketsResponse", {}).get("properties", {}).get("nextPage")
    if next_page is not None:
        next_page.update({"nullable": True, **EXT, "description": "the next page number; null on the last page"})
    entry = schemas.get("listObjects_200_response_objects_inner", {}).get("properties", {})
    if "lastModified" in entry:
        entry["lastModified"].update({"nullable": True, **EXT, "description": "null for a folder"})
    listing = doc["paths"].get("/internal/kos/v1/policy", {}).get("get", {}).get("responses", {}).get("200")
    if listing is not None:
        item = listing["content"]["application/json"]["schema"]
        listing["content"]["application/json"]["schema"] = {"type": "array", "items": item, **EXT}
        listing["description"] = "The policies (of accountId, named name, when given)"
