"""Every KOS response the suite receives, checked against the published schema.

The published reference (kosha/spec/kos-openapi.json) is the contract clients are written
against: a field it declares non-nullable must be absent rather than `null`, a declared type must
hold. conftest.py calls `check_every_response`, so every answer an httpx client in the suite reads
whole is checked, and a test that meets a violation fails naming the operation, the status and
the offending field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft4Validator

import kosha

SPEC: dict[str, Any] = json.loads(
    (Path(kosha.__file__).parent / "spec" / "kos-openapi.json").read_text())


class ContractViolation(AssertionError):
    """A response that the published schema does not allow."""


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: `nullable: true` becomes a `null` type."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
    return out


_COMPONENTS = {"components": {"schemas": _json_schema(SPEC["components"]["schemas"])}}


def _route(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


def _literal_segments(template: str) -> int:
    return sum(1 for part in template.split("/") if part and not part.startswith("{"))


_OPERATIONS: list[tuple[str, re.Pattern[str], dict[str, Any]]] = sorted(
    ((method.upper(), _route(path), op["responses"])
     for path, ops in SPEC["paths"].items() for method, op in ops.items()
     if isinstance(op, dict) and "responses" in op),
    key=lambda entry: -_literal_segments(entry[1].pattern.replace("[^/]+", "{}")))


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The JSON schema the reference declares for this answer, or None where it declares none."""
    for op_method, pattern, responses in _OPERATIONS:
        if op_method == method and pattern.match(path):
            content = (responses.get(str(status)) or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            return _json_schema(schema) if schema else None
    return None


def violations(method: str, path: str, status: int, body: Any) -> list[str]:
    schema = response_schema(method, path, status)
    if schema is None:
        return []
    validator = Draft4Validator({**schema, **_COMPONENTS})
    return [f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(body)]


def check(response: httpx.Response) -> None:
    """httpx response hook: raise ContractViolation if a JSON answer breaks the reference."""
    if "application/json" not in response.headers.get("content-type", ""):
        return
    request = response.request
    response.read()
    try:
        body = response.json()
    except ValueError:
        raise ContractViolation(f"{request.method} {request.url.path}: invalid JSON") from None
    found = violations(request.method, request.url.path, response.status_code, body)
    if found:
        raise ContractViolation(f"{request.method} {request.url.path} → {response.status_code} "
                                f"breaks the published schema: " + "; ".join(found))


def check_every_response() -> None:
    """Check every non-streamed answer of every `httpx.Client` in this process."""
    send = httpx.Client.send
    if getattr(send, "checks_contract", False):
        return

    def checked_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = send(self, request, **kwargs)
        if not kwargs.get("stream"):
            check(response)
        return response

    checked_send.checks_contract = True  # type: ignore[attr-defined]
    httpx.Client.send = checked_send  # type: ignore[method-assign]
