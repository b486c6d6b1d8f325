"""Glue between the signature verifiers (`kosha.s3.signature`: V4, and V2 for the clients that
still sign with it) and the principal services act for.

Header-signed and pre-signed requests become the key owner's `Principal`; requests with no
credentials become `ANONYMOUS` (which the bucket service lets read buckets with anonymous access
and nothing else). Unknown keys are `InvalidAccessKeyId`, wrong secrets `SignatureDoesNotMatch`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden
from ..services.principal import ANONYMOUS, Principal
from .signature.v2 import parse_v2_auth
from .signature.v4 import invalid_access_key, parse_request_auth

if TYPE_CHECKING:
    from ..services.container import Kosha
    from .request import S3Request
    from .signature.v4 import SignedRequest


async def lookup_secret(kosha: Kosha, access_key: str) -> tuple[str, Principal]:
    """The secret and principal of an access key (InvalidAccessKeyId when unknown or inactive)."""
    found: Any = kosha.access_keys.secret_for(access_key)
    if inspect.isawaitable(found):
        found = await found
    if found is None:
        raise invalid_access_key(access_key)
    secret, principal = found
    return secret, principal


async def authenticate(req: S3Request) -> None:
    """Set `req.principal` and `req.signed` (None for anonymous requests)."""
    auth: Any = parse_v2_auth(req.method, req.raw_path, req.query_string, req.hmap, req.bucket)
    if auth is None:
        auth = parse_request_auth(req.method, req.raw_path, req.query_string, req.hmap)
    if auth is None:
        req.principal = ANONYMOUS
        req.signed = None
        return
    secret, principal = await lookup_secret(req.kosha, auth.access_key)
    req.signed = auth.verify(secret)
    req.principal = principal


def signed_request(req: S3Request) -> SignedRequest | None:
    return req.signed


def require_authenticated(req: S3Request) -> None:
    if req.principal.anonymous:
        raise Forbidden("Access Denied", s3_code="AccessDenied")
