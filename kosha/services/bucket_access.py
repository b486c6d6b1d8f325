"""Who may do what to a bucket and its objects: the one decision behind `BucketService.resolve`,
and the S3 controls that feed it (bucket policy documents, ACLs, object ownership, the public
access block).

Order of evaluation (an explicit Deny anywhere wins):

1. The bucket's policy document (`policy_eval.py`), for every caller, on both ports (a KOS REST
   operation is evaluated as its S3 equivalent, `KOS_TO_S3`): a Deny refuses.
2. Callers of the bucket's account: admins may do anything; members need an Allow from their
   identity policies or from the bucket policy, and no identity-policy Deny.
3. Anyone else (other accounts, anonymous): refused by a Deny of their own identity policies;
   let in by an Allow of the bucket policy (unless the policy is public and the bucket's public
   access block restricts public buckets), or by an ACL grant: the bucket's for listing (READ),
   writing objects (WRITE) and its ACL (READ_ACP/WRITE_ACP), the object version's for reading it
   and its ACL. An object without an ACL of its own is readable where its bucket is (KOS
   `anonymous_access` is the bucket's AllUsers READ grant).
4. The refusal: on the S3 port 403 AccessDenied (bucket names are global, as on AWS); on the KOS
   REST API another account's bucket is 404 unless it is shared with the caller.

With `BucketOwnerEnforced` ownership, ACLs play no part (only policies and `anonymous_access`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden, Invalid, NotFound
from ..store import buckets as bucket_sql
from ..store.generation import invalidating
from . import acl as acls
from .models import Bucket
from .objects import read_object
from .policy_eval import ALLOW, DENY, BucketPolicy, caller, parse, resource_arn
from .principal import Principal
from .request_facts import current, is_request

if TYPE_CHECKING:
    from .container import Kosha

OWNERSHIPS = ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced")
PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
MAX_CACHED_POLICIES = 10_000

# The S3 action a KOS action is evaluated as in bucket policies (S3 operations name their own).
KOS_TO_S3 = {
    "kos:GetObject": "s3:GetObject", "kos:PutObject": "s3:PutObject",
    "kos:DeleteObject": "s3:DeleteObject", "kos:ListBucket": "s3:ListBucket",
    "kos:ListBucketVersions": "s3:ListBucketVersions", "kos:GetBucket": "s3:ListBucket",
    "kos:UpdateBucket": "s3:PutBucketVersioning", "kos:DeleteBucket": "s3:DeleteBucket",
    "kos:GetBucketLocation": "s3:GetBucketLocation",
    "kos:ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "kos:AbortMultipartUpload": "s3:AbortMultipartUpload",
    "kos:GetObjectTagging": "s3:GetObjectTagging", "kos:PutObjectTagging": "s3:PutObjectTagging",
    "kos:GetObjectAcl": "s3:GetObjectAcl", "kos:PutObjectAcl": "s3:PutObjectAcl",
    "kos:GetLifecycle": "s3:GetLifecycleConfiguration",
    "kos:PutLifecycle": "s3:PutLifecycleConfiguration",
    "kos:GetBucketPolicy": "s3:GetBucketPolicy", "kos:PutBucketPolicy": "s3:PutBucketPolicy",
    "kos:DeleteBucketPolicy": "s3:DeleteBucketPolicy", "kos:GetBucketCors": "s3:GetBucketCORS",
    "kos:PutBucketCors": "s3:PutBucketCORS", "kos:CreateBucket": "s3:CreateBucket",
}
# What an ACL grant must give, per S3 action (lower-case): on the bucket, or on the object.
BUCKET_PERMISSION = {
    "s3:listbucket": acls.READ, "s3:listbucketversions": acls.READ,
    "s3:listbucketmultipartuploads": acls.READ, "s3:getbucketlocation": acls.READ,
    "s3:putobject": acls.WRITE, "s3:deleteobject": acls.WRITE,
    "s3:abortmultipartupload": acls.WRITE, "s3:listmultipartuploadparts": acls.WRITE,
    "s3:getbucketacl": acls.READ_ACP, "s3:putbucketacl": acls.WRITE_ACP,
}
OBJECT_PERMISSION = {
    "s3:getobject": acls.READ, "s3:getobjectattributes": acls.READ,
    "s3:getobjectacl": acls.READ_ACP, "s3:putobjectacl": acls.WRITE_ACP,
}


_POLICY_ACTIONS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})


def acl_not_supported() -> Invalid:
    return Invalid("The bucket does not allow ACLs", s3_code="AccessControlListNotSupported")


def _access_denied() -> Forbidden:
    return Forbidden("Access Denied", s3_code="AccessDenied")


class BucketAccess:
    def __init__(self, kosha: Kosha) -> None:
        self.kosha = kosha
        self._policies: dict[str, BucketPolicy] = {}

    # -- the decision -----------------------------------------------------------------------
    def policy_of(self, bucket: Bucket) -> BucketPolicy | None:
        """The bucket's compiled policy, cached per bucket while its text is unchanged."""
        if not bucket.policy:
            return None
        hit = self._policies.get(bucket.name)
        if hit is not None and hit.text == bucket.policy:
            return hit
        compiled = parse(bucket.policy, bucket.name)
        if len(self._policies) >= MAX_CACHED_POLICIES:
            self._policies.clear()
        self._policies[bucket.name] = compiled
        return compiled

    @staticmethod
    def s3_action(action: str) -> str:
        facts = current()
        if facts.s3_action is not None and action == facts.op_action:
            return facts.s3_action
        return KOS_TO_S3.get(action, action)

    async def authorize(self, principal: Principal, bucket: Bucket, action: str,
                        key: str | None = None, version_id: str | None = None) -> None:
        """Return if `principal` may do `action` on the bucket (or its object `key`); raise the
        refusal (see the module docstring) otherwise."""
        own = not principal.anonymous and bucket.account_id == principal.account_id
        if own and principal.can_do_anything and not bucket.policy:
            return                                        # the common case, decided at once
        facts = current()
        memo = (bucket.name, action, key, version_id)
        if memo in facts.granted:
            return
        await self._authorize(principal, bucket, action, key, version_id, own)
        if is_request(facts):
            facts.granted.add(memo)

    async def _authorize(self, principal: Principal, bucket: Bucket, action: str,
                         key: str | None, version_id: str | None, own: bool) -> None:
        s3_action = self.s3_action(action)
        if own and principal.can_do_anything and s3_action.lower() in _POLICY_ACTIONS:
            return    # an admin can always repair the policy that locks it out (AWS: root)
        verdict = None
        policy = self.policy_of(bucket)
        if policy is not None:
            verdict = await self._evaluate(policy, principal, bucket, s3_action, key, version_id)
            if verdict == DENY:
                raise self.refusal(principal, bucket, own=own)
            if verdict == ALLOW and not own and policy.is_public and self.flag(
                    bucket, "RestrictPublicBuckets"):
                verdict = None
        resource = bucket.krn if key is None else f"{bucket.krn}/{key}"
        authz = self.kosha.authz
        if own:
            decision = await authz.decision(principal, action, resource)
            if decision.allowed or (verdict == ALLOW and decision.decision != "explicit-deny"):
                return
            raise Forbidden(f"access denied: {action} on {resource}", s3_code="AccessDenied")
        if not principal.anonymous and await authz.denies(principal, action, resource):
            raise self.refusal(principal, bucket)
        if verdict == ALLOW or await self._acl_allows(principal, bucket, s3_action, key, version_id):
            return
        if policy is not None and await self._may_learn_missing(policy, principal, bucket,
                                                                s3_action, key, version_id):
            return        # the handler answers 404 NoSuchKey
        raise self.refusal(principal, bucket)

    async def _may_learn_missing(self, policy: BucketPolicy, principal: Principal, bucket: Bucket,
                                 s3_action: str, key: str | None, version_id: str | None) -> bool:
        """A read of a missing key by a caller the policy lets list that key's prefix
        (`s3:ListBucket` with `s3:prefix` = the key) is a 404, not a 403, as on S3."""
        if key is None or OBJECT_PERMISSION.get(s3_action.lower()) != acls.READ:
            return False
        row = await self._version(bucket, key, version_id)
        if row is not None and not row.is_delete_marker:
            return False
        facts = current()

        def lookup(name: str) -> Any:
            return [key] if name == "s3:prefix" else facts.value(name, principal.kcid, None)

        return policy.evaluate(caller(principal.kcid, principal.account_id), "s3:ListBucket",
                               resource_arn(bucket.name), lookup) == ALLOW

    async def _evaluate(self, policy: BucketPolicy, principal: Principal, bucket: Bucket,
                        s3_action: str, key: str | None, version_id: str | None) -> str | None:
        facts = current()
        tags: Mapping[str, str] | None = None
        if policy.needs_existing_tags and key is not None:
            row = await self._version(bucket, key, version_id)
            tags = (row.tags or {}) if row is not None else None

        def lookup(name: str) -> Any:
            return facts.value(name, principal.kcid, tags)

        return policy.evaluate(caller(principal.kcid, principal.account_id), s3_action,
                               resource_arn(bucket.name, key), lookup)

    async def _version(self, bucket: Bucket, key: str, version_id: str | None) -> Any:
        return await read_object(self.kosha, bucket.name, key, version_id)

    async def _acl_allows(self, principal: Principal, bucket: Bucket, s3_action: str,
                          key: str | None, version_id: str | None) -> bool:
        low = s3_action.lower()
        permission = OBJECT_PERMISSION.get(low) if key is not None else None
        if permission is None:
            needed = BUCKET_PERMISSION.get(low)
            return needed is not None and self.bucket_permits(principal, bucket, needed)
        row = await self._version(bucket, key, version_id)   # type: ignore[arg-type]
        if row is None or row.is_delete_marker:
            # A missing key: a caller who may list the bucket learns it is missing (404).
            return self.bucket_permits(principal, bucket, acls.READ)
        if bucket.ownership == "BucketOwnerEnforced":
            return permission == acls.READ and self.bucket_permits(principal, bucket, acls.READ)
        if row.acl is None and permission == acls.READ:
            return self.bucket_permits(principal, bucket, acls.READ)
        owner = row.owner or bucket.owner
        grants = acls.decode(row.acl, owner, bucket.owner)
        return acls.permits(grants, permission, principal.kcid,
                            ignore_public=self.flag(bucket, "IgnorePublicAcls"))

    def bucket_grants(self, bucket: Bucket) -> acls.Grants:
        """The bucket's ACL as grants (KOS `anonymous_access` is its AllUsers READ grant)."""
        if bucket.ownership == "BucketOwnerEnforced":
            grants = acls.canned_grants("private", bucket.owner)
        else:
            grants = acls.decode(bucket.acl, bucket.owner)
        if bucket.anonymous_access and not acls.grants_all_users_read(grants):
            grants = grants + ((f"uri:{acls.ALL_USERS}", acls.READ),)
        return grants

    def bucket_permits(self, principal: Principal, bucket: Bucket, permission: str) -> bool:
        return acls.permits(self.bucket_grants(bucket), permission, principal.kcid,
                            ignore_public=self.flag(bucket, "IgnorePublicAcls"))

    @staticmethod
    def flag(bucket: Bucket, name: str) -> bool:
        return bool(bucket.public_access_block and bucket.public_access_block.get(name))

    def refusal(self, principal: Principal, bucket: Bucket, *, own: bool = False) -> Exception:
        """403 AccessDenied on the S3 port, to anonymous callers and within the account; on the
        KOS API another account's bucket stays a 404 unless it is shared with the caller."""
        if own or principal.anonymous or current().on_s3:
            return _access_denied()
        if self.bucket_permits(principal, bucket, acls.READ) or self.bucket_permits(
                principal, bucket, acls.WRITE):
            return _access_denied()
        return NotFound(f"bucket {bucket.name!r} not found", s3_code="NoSuchBucket")

    # -- bucket policy documents ------------------------------------------------------------
    async def put_policy(self, principal: Principal, ref: str, document: bytes) -> None:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:PutBucketPolicy")
        compiled = parse(document, bucket.name)
        if compiled.is_public and self.flag(bucket, "BlockPublicPolicy"):
            raise _access_denied()
        await self._set(bucket, policy=compiled.text)

    async def get_policy(self, principal: Principal, ref: str) -> str:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:GetBucketPolicy", fresh=True)
        if not bucket.policy:
            raise NotFound("The bucket policy does not exist", s3_code="NoSuchBucketPolicy")
        return bucket.policy

    async def delete_policy(self, principal: Principal, ref: str) -> None:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:DeleteBucketPolicy")
        await self._set(bucket, policy=None)

    async def policy_is_public(self, principal: Principal, ref: str) -> bool:
        """Public through its policy or, as RGW answers, through an ACL grant to a group."""
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:GetBucketPolicy", fresh=True)
        policy = self.policy_of(bucket)
        return (policy is not None and policy.is_public) or acls.is_public(self.bucket_grants(bucket))

    # -- ownership controls and the public access block -------------------------------------
    async def put_ownership(self, principal: Principal, ref: str, ownership: str) -> None:
        if ownership not in OWNERSHIPS:
            raise Invalid(f"Invalid ObjectOwnership {ownership!r}", s3_code="MalformedXML")
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:UpdateBucket")
        if ownership == "BucketOwnerEnforced" and not _only_owner(
                acls.decode(bucket.acl, bucket.owner), bucket.owner):
            raise Invalid("The bucket ACL grants access to others: set it to private before "
                          "disabling ACLs", s3_code="InvalidBucketAclWithObjectOwnership")
        await self._set(bucket, ownership=ownership)

    async def get_ownership(self, principal: Principal, ref: str) -> str:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:GetBucket", fresh=True)
        if not bucket.ownership:
            raise NotFound("The bucket ownership controls were not found",
                           s3_code="OwnershipControlsNotFoundError")
        return bucket.ownership

    async def delete_ownership(self, principal: Principal, ref: str) -> None:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:UpdateBucket")
        await self._set(bucket, ownership=None)

    async def put_public_access_block(self, principal: Principal, ref: str,
                                      flags: dict[str, bool]) -> None:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:UpdateBucket")
        await self._set(bucket, public_access_block={f: bool(flags.get(f)) for f in PAB_FLAGS})

    async def get_public_access_block(self, principal: Principal, ref: str) -> dict[str, bool]:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:GetBucket", fresh=True)
        if bucket.public_access_block is None:
            raise NotFound("The public access block configuration was not found",
                           s3_code="NoSuchPublicAccessBlockConfiguration")
        return bucket.public_access_block

    async def delete_public_access_block(self, principal: Principal, ref: str) -> None:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:UpdateBucket")
        await self._set(bucket, public_access_block=None)

    # -- ACLs -------------------------------------------------------------------------------
    async def check_grants(self, grants: acls.Grants) -> None:
        """Every canonical id granted to must be a user of the deployment (InvalidArgument)."""
        for kcid in acls.user_ids(grants):
            if not await self.kosha.accounts.user_exists(kcid):
                raise Invalid("Invalid id", s3_code="InvalidArgument",
                              ArgumentName="CanonicalUser/ID", ArgumentValue=kcid)

    def _admit(self, bucket: Bucket, grants: acls.Grants, canned: str | None, *,
               on_object: bool = False) -> None:
        """Ownership and public-access-block rules on an ACL being set (on an object, with ACLs
        disabled, only `bucket-owner-full-control` is accepted, as on S3)."""
        if bucket.ownership == "BucketOwnerEnforced":
            allowed = ("bucket-owner-full-control",) if on_object else (
                "private", "bucket-owner-full-control")
            fine = (canned in allowed if canned is not None
                    else _only_owner(grants, bucket.owner))
            if not fine:
                raise acl_not_supported()
        if acls.is_public(grants) and self.flag(bucket, "BlockPublicAcls"):
            raise _access_denied()

    async def bucket_acl(self, principal: Principal, ref: str) -> tuple[Bucket, acls.Grants]:
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:GetBucket")
        return bucket, self.bucket_grants(bucket)

    async def put_bucket_acl(self, principal: Principal, ref: str, canned: str | None,
                             grants: acls.Grants | None) -> None:
        """Replace the bucket's ACL by a canned ACL or by explicit grants."""
        bucket = await self.kosha.buckets.resolve(principal, ref, "kos:UpdateBucket")
        if canned is not None:
            grants = acls.canned_grants(canned, bucket.owner)
        assert grants is not None
        await self.check_grants(grants)
        self._admit(bucket, grants, canned)
        await self._set(bucket, acl=acls.encode(grants, bucket.owner),
                        anonymous_access=acls.grants_all_users_read(grants))

    async def new_object(self, principal: Principal, bucket: Bucket,
                         acl: str | acls.Grants | None) -> tuple[str | None, str | None]:
        """(stored ACL, owner) of an object being created with this requested ACL (a canned
        name, explicit grants, or None), under the bucket's ownership and public-access rules."""
        canned = acl if isinstance(acl, str) else None
        owner = principal.kcid or bucket.owner
        if acl is None:
            enforced = bucket.ownership == "BucketOwnerEnforced"
            return None, (bucket.owner if enforced else principal.kcid or None)
        grants = acls.canned_grants(canned, owner, bucket.owner) if canned else tuple(acl)
        if canned is None:
            await self.check_grants(grants)
        self._admit(bucket, grants, canned, on_object=True)
        if bucket.ownership == "BucketOwnerEnforced":
            return None, bucket.owner
        if bucket.ownership == "BucketOwnerPreferred" and canned == "bucket-owner-full-control":
            return None, bucket.owner
        return (canned if canned else acls.encode(grants, owner, bucket.owner)), principal.kcid or None

    def object_grants(self, bucket: Bucket, version: Any) -> acls.Grants:
        owner = (bucket.owner if bucket.ownership == "BucketOwnerEnforced"
                 else version.owner or bucket.owner)
        if bucket.ownership == "BucketOwnerEnforced":
            return acls.canned_grants("private", owner)
        return acls.decode(version.acl, owner, bucket.owner)

    async def put_object_acl(self, principal: Principal, bucket: Bucket, version: Any,
                             canned: str | None, grants: acls.Grants | None) -> str:
        """The stored form of a new ACL for an existing object version (checked)."""
        owner = version.owner or bucket.owner
        if canned is not None:
            grants = acls.canned_grants(canned, owner, bucket.owner)
        assert grants is not None
        await self.check_grants(grants)
        self._admit(bucket, grants, canned, on_object=True)
        return acls.encode(grants, owner, bucket.owner)

    def anonymous_access_acl(self, bucket: Bucket, on: bool) -> str:
        """The bucket's stored ACL once KOS `anonymous_access` is switched on or off."""
        if on and self.flag(bucket, "BlockPublicAcls"):
            raise _access_denied()
        grants = acls.with_all_users_read(acls.decode(bucket.acl, bucket.owner), on)
        return acls.encode(grants, bucket.owner)

    async def _set(self, bucket: Bucket, **values: Any) -> None:
        row = await self.kosha.db.write(invalidating(bucket_sql.update_bucket), bucket.name, values)
        self.kosha.buckets.forget(bucket.name)
        if row is None:
            raise NotFound(f"bucket {bucket.name!r} not found", s3_code="NoSuchBucket")


def _only_owner(grants: acls.Grants, owner: str) -> bool:
    return set(grants) <= {(f"id:{owner}", acls.FULL_CONTROL)}
