"""Bucket CORS: the configuration (Get/Put/DeleteBucketCors), preflight (OPTIONS), and the
`Access-Control-*` headers on actual requests.

Rules are stored on the bucket (`Bucket.cors`) as dicts in S3's own vocabulary::

    {"ID": "...", "AllowedOrigins": [...], "AllowedMethods": [...], "AllowedHeaders": [...],
     "ExposeHeaders": [...], "MaxAgeSeconds": 3000}

Matching follows S3: the first rule whose origin (one `*` wildcard allowed) and method match, and
(for preflight) that allows every requested header, decides.
"""

from __future__ import annotations

from typing import Any

from ..errors import Forbidden, Invalid, KoshaError, NotFound
from ..services.models import Bucket
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

ALLOWED_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
MAX_RULES = 100


def _wild_match(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    star = pattern.find("*")
    if star < 0:
        return pattern == value
    head, tail = pattern[:star], pattern[star + 1:]
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _origin_match(rule: dict[str, Any], origin: str) -> bool:
    return any(_wild_match(o, origin) for o in rule.get("AllowedOrigins") or ())


def _headers_allowed(rule: dict[str, Any], requested: list[str]) -> bool:
    allowed = [h.lower() for h in rule.get("AllowedHeaders") or ()]
    return all(any(_wild_match(a, h) for a in allowed) for h in requested)


def find_rule(bucket: Bucket, origin: str, method: str,
              requested_headers: list[str] | None = None) -> dict[str, Any] | None:
    for rule in bucket.cors or ():
        if not _origin_match(rule, origin):
            continue
        if method not in (rule.get("AllowedMethods") or ()):
            continue
        if requested_headers and not _headers_allowed(rule, requested_headers):
            continue
        return rule
    return None


def _allow_origin(rule: dict[str, Any], origin: str) -> str:
    return "*" if "*" in (rule.get("AllowedOrigins") or ()) else origin


def add_headers(resp: S3Response, rule: dict[str, Any], origin: str,
                requested_headers: list[str] | None = None) -> None:
    """The headers a rule allows: of an actual request, or of a preflight (which also echoes the
    request headers it asked for)."""
    resp.add("access-control-allow-origin", _allow_origin(rule, origin))
    resp.add("access-control-allow-methods", ", ".join(rule.get("AllowedMethods") or ()))
    if requested_headers:
        resp.add("access-control-allow-headers", ", ".join(requested_headers))
    expose = rule.get("ExposeHeaders")
    if expose:
        resp.add("access-control-expose-headers", ", ".join(expose))
    if rule.get("MaxAgeSeconds") is not None:
        resp.add("access-control-max-age", rule["MaxAgeSeconds"])
    if "*" not in (rule.get("AllowedOrigins") or ()):
        resp.add("access-control-allow-credentials", "true")
    resp.add("vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")


async def peek_bucket(req: S3Request, name: str) -> Bucket | None:
    """The bucket without authorization (CORS is answered before and regardless of auth)."""
    if not name:
        return None
    try:
        return await req.kosha.buckets.peek(name)
    except KoshaError:
        return None


async def preflight(req: S3Request) -> S3Response:
    """OPTIONS: answer a browser's preflight from the bucket's rules (no authentication)."""
    origin = req.headers.get("origin")
    method = req.headers.get("access-control-request-method")
    if not origin:
        raise Invalid("Insufficient information. Origin request header needed.",
                      s3_code="BadRequest")
    if not method:
        raise Invalid("Invalid Access-Control-Request-Method: null", s3_code="BadRequest")
    assert req.bucket is not None
    bucket = await peek_bucket(req, req.bucket)
    if bucket is None:
        raise NotFound("The specified bucket does not exist", s3_code="NoSuchBucket")
    requested = [h.strip().lower() for h in
                 req.headers.get("access-control-request-headers", "").split(",") if h.strip()]
    if not bucket.cors:
        raise Forbidden("CORSResponse: CORS is not enabled for this bucket.",
                        s3_code="AccessForbidden")
    rule = find_rule(bucket, origin, method.strip().upper(), requested)
    if rule is None:
        raise Forbidden("CORSResponse: This CORS request is not allowed. This is usually because "
                        "the evalution of Origin, request method / Access-Control-Request-Method "
                        "or Access-Control-Request-Headers are not whitelisted by the resource's "
                        "CORS spec.", s3_code="AccessForbidden")
    resp = empty_response(200)
    add_headers(resp, rule, origin, requested)
    return resp


async def decorate(req: S3Request, resp: S3Response) -> None:
    """Add CORS headers to the answer of an actual request that carries `Origin`."""
    origin = req.headers.get("origin")
    if not origin or req.bucket is None:
        return
    bucket = req._bucket or await peek_bucket(req, req.bucket)
    if bucket is None or not bucket.cors:
        return
    rule = find_rule(bucket, origin, req.method)
    if rule is not None:
        add_headers(resp, rule, origin)


# --------------------------------------------------------------------------- configuration

async def get_bucket_cors(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    if not bucket.cors:
        raise NotFound("The CORS configuration does not exist",
                       s3_code="NoSuchCORSConfiguration")
    rules = []
    for r in bucket.cors:
        parts = ["<CORSRule>"]
        if r.get("ID"):
            parts.append(el("ID", r["ID"]))
        parts += [el("AllowedHeader", h) for h in r.get("AllowedHeaders") or ()]
        parts += [el("AllowedMethod", m) for m in r.get("AllowedMethods") or ()]
        parts += [el("AllowedOrigin", o) for o in r.get("AllowedOrigins") or ()]
        parts += [el("ExposeHeader", h) for h in r.get("ExposeHeaders") or ()]
        if r.get("MaxAgeSeconds") is not None:
            parts.append(el("MaxAgeSeconds", r["MaxAgeSeconds"]))
        parts.append("</CORSRule>")
        rules.append("".join(parts))
    return xml_response(xml.doc("CORSConfiguration", rules))


def parse_cors(body: bytes) -> list[dict[str, Any]]:
    root = xml.parse(body, root="CORSConfiguration")
    rules = []
    for node in xml.children(root, "CORSRule"):
        methods = [(m.text or "").strip() for m in xml.children(node, "AllowedMethod")]
        origins = [(o.text or "").strip() for o in xml.children(node, "AllowedOrigin")]
        if not methods or not origins:
            raise xml.malformed()
        for m in methods:
            if m not in ALLOWED_METHODS:
                raise Invalid(f"Found unsupported HTTP method in CORS config. Unsupported method "
                              f"is {m}", s3_code="InvalidRequest")
        for o in origins:
            if o.count("*") > 1:
                raise Invalid(f"AllowedOrigin '{o}' can not have more than one wildcard.",
                              s3_code="InvalidRequest")
        headers = [(h.text or "").strip() for h in xml.children(node, "AllowedHeader")]
        for h in headers:
            if h.count("*") > 1:
                raise Invalid(f"AllowedHeader '{h}' can not have more than one wildcard.",
                              s3_code="InvalidRequest")
        rule: dict[str, Any] = {
            "AllowedMethods": methods,
            "AllowedOrigins": origins,
            "AllowedHeaders": headers,
            "ExposeHeaders": [(h.text or "").strip() for h in xml.children(node, "ExposeHeader")],
        }
        rid = xml.text(node, "ID")
        if rid:
            if len(rid) > 255:
                raise Invalid("The ID of a CORS rule is at most 255 characters",
                              s3_code="InvalidArgument")
            rule["ID"] = rid
        max_age = xml.int_text(node, "MaxAgeSeconds")
        if max_age is not None:
            rule["MaxAgeSeconds"] = max_age
        rules.append(rule)
    if not rules:
        raise xml.malformed()
    if len(rules) > MAX_RULES:
        raise Invalid(f"A CORS configuration has at most {MAX_RULES} rules",
                      s3_code="InvalidRequest")
    return rules


async def put_bucket_cors(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    rules = parse_cors(await req.read_body(64 * 1024))
    await req.kosha.buckets.update(req.principal, bucket.name, cors=rules)
    return empty_response(200)


async def delete_bucket_cors(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    await req.kosha.buckets.update(req.principal, bucket.name, clear_cors=True)
    return empty_response(204)
