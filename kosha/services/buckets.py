"""Buckets: naming, tenancy, regions and tiers, settings, and who may see them.

Who may see and change a bucket is decided in `bucket_access.py` (bucket policies, ACLs,
identity policies, and the answer a refusal gets on each port). Bucket names are global (as on
S3), so creating a name that another account holds answers 409 on both ports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..ids import bucket_krn, bucket_name_from_ref, validate_bucket_name
from ..store import buckets as sql
from ..store.generation import invalidating
from ..cache import TTLCache, epoch
from . import acl as acls
from .bucket_access import OWNERSHIPS
from .models import Bucket
from .principal import Principal

if TYPE_CHECKING:
    from .container import Kosha

CACHE_SECONDS = 1.0
CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read")
MAX_TAGS = 50
_SQL_INT_MAX = 2**63 - 1


class BucketService:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._cache: TTLCache[str, Bucket] = TTLCache(CACHE_SECONDS)

    # -- lookup -----------------------------------------------------------------------------
    async def _load(self, name: str, fresh: bool = False) -> Bucket | None:
        hit = None if fresh else self._cache.get(name)
        if hit is not None:
            return hit
        since = epoch()
        row = await self.kosha.db.read(sql.get, name)
        if row is None:
            self._cache.pop(name)
            return None
        bucket = Bucket.from_row(row)
        self._cache.put(name, bucket, since=since)
        return bucket

    async def peek(self, name: str) -> Bucket | None:
        """The bucket of that name, without any check of who asks: for CORS preflights, which
        carry no credentials and must be answered from the bucket's own CORS rules."""
        return await self._load(name)

    def forget(self, name: str) -> None:
        self._cache.pop(name)

    async def resolve(self, principal: Principal, ref: str, action: str, *, key: str | None = None,
                      version_id: str | None = None, fresh: bool = False) -> Bucket:
        """The bucket `ref` names (KRN or name), if `principal` may do `action` on it (or on its
        object `key`); the decision is `BucketAccess.authorize`'s (bucket_access.py)."""
        name = bucket_name_from_ref(ref)
        bucket = await self._load(name, fresh) if name else None
        if bucket is None or (ref.startswith("krn:") and ref.split(":")[3] != bucket.account_id):
            raise NotFound(f"bucket {name!r} not found", s3_code="NoSuchBucket")
        await self.kosha.access.authorize(principal, bucket, action, key, version_id)
        return bucket

    @staticmethod
    def foreign(principal: Principal, bucket: Bucket) -> bool:
        """Is `principal` anonymous or of another account than the bucket's?"""
        return principal.anonymous or bucket.account_id != principal.account_id

    def denied(self, principal: Principal, bucket: Bucket) -> Exception:
        """The refusal a caller from outside the account gets (see bucket_access.py)."""
        return self.kosha.access.refusal(principal, bucket)

    async def get(self, principal: Principal, ref: str) -> Bucket:
        return await self.resolve(principal, ref, "kos:GetBucket", fresh=True)

    async def list(self, principal: Principal, page: int = 1, page_size: int | None = None,
                   name_filter: str | None = None) -> tuple[list[Bucket], int]:
        if principal.anonymous:
            raise Forbidden("access denied", s3_code="AccessDenied")
        await self.kosha.authz.require(principal, "kos:ListBuckets", f"krn:kos:*:{principal.account_id}:*")
        if page < 1 or (page_size is not None and page_size < 1):
            raise Invalid("page and page_size must be positive integers")
        # SQL integers are 64-bit: a page past any account's buckets is simply empty.
        offset = min((page - 1) * page_size, _SQL_INT_MAX) if page_size else 0
        limit = min(page_size, _SQL_INT_MAX) if page_size else None
        rows, total = await self.kosha.db.read(sql.list_for_account, principal.account_id,
                                               name_filter, offset, limit)
        return [Bucket.from_row(r) for r in rows], total

    # -- changes ----------------------------------------------------------------------------
    async def create(self, principal: Principal, name: Any, *, region: str | None = None,
                     tier: str | None = None, description: str | None = None,
                     tags: dict[str, Any] | None = None, versioning: bool = False,
                     anonymous_access: bool = False, acl: str | acls.Grants | None = None,
                     allocated_capacity: int | None = None, ownership: str | None = None) -> Bucket:
        name = validate_bucket_name(name)
        if ownership is not None and ownership not in OWNERSHIPS:
            raise Invalid(f"Invalid x-amz-object-ownership {ownership!r}", s3_code="InvalidArgument")
        settings = self.kosha.settings
        chosen = settings.region(region) if region else settings.default_region
        if chosen is None:
            raise Invalid(f"unknown region {region!r}; known regions: {', '.join(settings.region_names)}",
                          s3_code="InvalidLocationConstraint")
        if tier is not None and not isinstance(tier, str):
            raise Invalid("tier must be a string")
        if allocated_capacity is not None and allocated_capacity < 0:
            raise Invalid("allocatedCapacity must not be negative")
        _check_tags(tags)
        grants = None if acl is None or isinstance(acl, str) else tuple(acl)
        if grants is not None:        # explicit x-amz-grant-* headers (services/acl.py)
            await self.kosha.access.check_grants(grants)
            acl = acls.encode(grants, principal.kcid)
            anonymous_access = anonymous_access or acls.grants_all_users_read(grants)
        else:
            acl = _check_acl(acl or ("public-read" if anonymous_access else "private"))
        if ownership == "BucketOwnerEnforced" and (acl != "private" or anonymous_access):
            raise Invalid("ACLs are disabled by BucketOwnerEnforced: create the bucket private",
                          s3_code="InvalidBucketAclWithObjectOwnership")
        await self.kosha.authz.require(principal, "kos:CreateBucket",
                                       bucket_krn(chosen.name, principal.account_id, principal.kcid, name))
        values = dict(
            name=name, krn=bucket_krn(chosen.name, principal.account_id, principal.kcid, name),
            account_id=principal.account_id, owner=principal.kcid, region=chosen.name,
            tier=tier or chosen.tier, description=description, tags=tags or {},
            versioning="Enabled" if versioning else "", acl=acl,
            anonymous_access=bool(anonymous_access) or acl.startswith("public-read"),
            status="active", allocated_capacity=allocated_capacity, used_capacity=0,
            ownership=ownership,
            object_count=0, created_at=self.kosha.clock.now(),
        )
        try:
            row = await self.kosha.db.write(sql.insert_bucket, values)
        except IntegrityError:
            existing = await self._load(name, fresh=True)
            if existing is not None and existing.account_id == principal.account_id:
                raise Conflict(f"bucket {name!r} already exists", s3_code="BucketAlreadyOwnedByYou") from None
            raise Conflict(f"bucket name {name!r} is already taken", s3_code="BucketAlreadyExists") from None
        self.forget(name)
        return Bucket.from_row(row)

    async def update(self, principal: Principal, ref: str, *, tags: dict[str, Any] | None = None,
                     versioning: bool | str | None = None, anonymous_access: bool | None = None,
                     acl: str | None = None, cors: list[dict[str, Any]] | None = None,
                     clear_cors: bool = False, clear_tags: bool = False,
                     allocated_capacity: int | None = None, clear_quota: bool = False) -> Bucket:
        """Change the settings given. A quota below the bytes already stored is allowed, as on S3
        and KOS: it refuses new writes and never removes what is there."""
        bucket = await self.resolve(principal, ref, "kos:UpdateBucket")
        values: dict[str, Any] = {}
        if allocated_capacity is not None or clear_quota:
            if allocated_capacity is not None and allocated_capacity < 0:
                raise Invalid("allocatedCapacity must not be negative")
            values["allocated_capacity"] = allocated_capacity
        if tags is not None or clear_tags:
            _check_tags(tags)
            values["tags"] = tags or {}
        if versioning is not None:
            values["versioning"] = _versioning_state(bucket, versioning)
        if acl is not None:
            values["acl"] = _check_acl(acl)
            values["anonymous_access"] = acl.startswith("public")
        if anonymous_access is not None:
            values["anonymous_access"] = bool(anonymous_access)
            if acl is None:   # the bucket's AllUsers READ grant follows (bucket_access.py)
                values["acl"] = self.kosha.access.anonymous_access_acl(bucket, bool(anonymous_access))
        if cors is not None or clear_cors:
            values["cors"] = cors
        row = await self.kosha.db.write(invalidating(sql.update_bucket), bucket.name, values)
        self.forget(bucket.name)
        if row is None:
            raise NotFound(f"bucket {bucket.name!r} not found", s3_code="NoSuchBucket")
        return Bucket.from_row(row)

    async def delete(self, principal: Principal, ref: str, otp: str | None = None) -> None:
        bucket = await self.resolve(principal, ref, "kos:DeleteBucket")
        await self.kosha.accounts.require_otp(principal, otp)
        freed = await self.kosha.db.write(invalidating(_delete_if_empty), bucket.name)
        self.forget(bucket.name)
        await self.kosha.blobs.delete(freed)


def _delete_if_empty(conn: Any, name: str) -> list[str]:
    if not sql.lock(conn, name):
        raise NotFound(f"bucket {name!r} not found", s3_code="NoSuchBucket")
    if not sql.is_empty(conn, name):
        raise Conflict(f"bucket {name!r} is not empty: delete its objects (and their versions) first",
                       s3_code="BucketNotEmpty")
    return sql.delete_bucket(conn, name)


def _versioning_state(bucket: Bucket, value: bool | str) -> str:
    if isinstance(value, bool):
        if value:
            return "Enabled"
        return "Suspended" if bucket.versioning else ""
    if value not in ("Enabled", "Suspended"):
        raise Invalid("versioning status must be Enabled or Suspended", s3_code="MalformedXML")
    return value


def _check_acl(acl: str) -> str:
    if acl not in CANNED_ACLS:
        raise Invalid(f"unknown canned ACL {acl!r}", s3_code="InvalidArgument")
    return acl


def _check_tags(tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, dict):
        raise Invalid("tags must be an object of key/value pairs")
    if len(tags) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags", s3_code="InvalidTag")
    for k, v in tags.items():
        if not isinstance(k, str) or not 0 < len(k) <= 128:
            raise Invalid("tag keys must be 1 to 128 characters", s3_code="InvalidTag")
        if v is not None and not isinstance(v, (str, int, float, bool)):
            raise Invalid(f"tag {k!r} must have a string value", s3_code="InvalidTag")
        if isinstance(v, str) and len(v) > 256:
            raise Invalid("tag values must be at most 256 characters", s3_code="InvalidTag")
