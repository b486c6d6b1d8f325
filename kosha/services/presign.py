"""Pre-signed S3 URLs that the KOS API hands out (JSON upload, JSON download).

The URL points at the S3 port (`settings.s3_url`, path style) and is signed with SigV4
(`kosha.s3.signature.v4.presign_url`) by an access key of the caller, so the S3 port verifies
it like any other pre-signed request and acts as that same user:

- a caller authenticated through an access key (a session from `activate`) signs with that key;
- a caller without one (a JWT from an identity provider, or `--insecure-dev-auth`) signs with
  its newest active access key, and if it has none, with a key created for it then, named
  `kosha-presign` (visible and deletable like any other key; deleting it voids its URLs).

URLs are valid for `settings.presign_expiry` seconds (or the `expiresIn` a download asks for)
of wall-clock time: they are checked against the clocks of real clients, so `kosha.clock`'s
test offset does not apply to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Unprocessable
from ..ids import validate_object_key
from ..s3.signature.v4 import MAX_PRESIGN_EXPIRES, presign_url
from ..store import identity as identity_sql
from .models import Bucket
from .principal import Principal

if TYPE_CHECKING:
    from .container import Kosha

PRESIGN_KEY_NAME = "kosha-presign"


async def upload_url(kosha: Kosha, principal: Principal, bucket_ref: str, key: str) -> str:
    """A pre-signed PUT for `key`, if the caller may write it."""
    validate_object_key(key)
    bucket = await kosha.buckets.resolve(principal, bucket_ref, "kos:PutObject", key=key)
    return await _sign(kosha, principal, "PUT", bucket, key)


async def download_url(kosha: Kosha, principal: Principal, bucket_ref: str, key: str,
                       version_id: str | None = None, expires_in: int | None = None) -> str:
    """A pre-signed GET for `key` (that version of it, when given), if it exists and the caller
    may read it (404 otherwise), valid for `expires_in` seconds (a share link) or the default."""
    if expires_in is not None and not 1 <= expires_in <= MAX_PRESIGN_EXPIRES:
        raise Unprocessable(f"'expiresIn' must be between 1 and {MAX_PRESIGN_EXPIRES} seconds")
    version = await kosha.objects.head(principal, bucket_ref, key, version_id)
    bucket = await kosha.buckets.resolve(principal, bucket_ref, "kos:GetObject", key=key)
    query = {"versionId": version_id} if version_id is not None else None
    return await _sign(kosha, principal, "GET", bucket, version.key, expires_in, query)


async def _sign(kosha: Kosha, principal: Principal, method: str, bucket: Bucket, key: str,
                expires_in: int | None = None, query: dict[str, str] | None = None) -> str:
    access_key, secret = await _credential(kosha, principal)
    return presign_url(method, kosha.settings.s3_url, bucket.name, key, access_key, secret,
                       bucket.region, expires_in or kosha.settings.presign_expiry, extra_query=query)


async def _credential(kosha: Kosha, principal: Principal) -> tuple[str, str]:
    """(access key, secret) to sign with on the caller's behalf; see the module docstring."""
    if principal.access_key:
        found = await kosha.access_keys.secret_for(principal.access_key)
        if found is not None:
            return principal.access_key, found[0]
    rows = await kosha.db.read(identity_sql.list_access_keys, principal.account_id, principal.kcid)
    for row in sorted(rows, key=lambda r: r.created_at, reverse=True):
        found = await kosha.access_keys.secret_for(row.access_key)
        if found is not None and found[1].kcid == principal.kcid:
            return row.access_key, found[0]
    created = await kosha.access_keys.create(principal, key_name=PRESIGN_KEY_NAME)
    assert created.secret_key is not None
    return created.access_key, created.secret_key
