"""ACLs: canned ACLs only, mapped onto the bucket's `anonymous_access` and the owner.

What we store is the canned ACL's name (bucket and object versions alike); a grant list sent as
XML is accepted when it is exactly what a canned ACL would produce, which is what `aws s3api
put-bucket-acl` round trips and most tools send. Anything finer-grained is NotImplemented rather
than silently ignored. What the ACLs let others do is decided in `services/buckets.py`
(`resolve`, `check_object_access`).
"""

from __future__ import annotations

from typing import Any

from ..errors import Invalid, NotImplementedYet
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

BUCKET_CANNED = ("private", "public-read", "public-read-write", "authenticated-read")
OBJECT_CANNED = BUCKET_CANNED + ("aws-exec-read", "bucket-owner-read", "bucket-owner-full-control")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GRANT_HEADERS = ("x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp",
                 "x-amz-grant-write-acp", "x-amz-grant-full-control")


def owner_xml(owner_id: str | None, tag: str = "Owner") -> str:
    oid = owner_id or ""
    return f"<{tag}>{el('ID', oid)}{el('DisplayName', display_name(oid))}</{tag}>"


def display_name(owner_id: str) -> str:
    """Owners are named by their user id (kcid); it doubles as the display name."""
    return owner_id


def canned_from_headers(req: S3Request, *, bucket: bool) -> str | None:
    """The `x-amz-acl` of a request (validated), or None. `x-amz-grant-*` is NotImplemented."""
    for h in GRANT_HEADERS:
        if h in req.headers:
            raise NotImplementedYet("Explicit grants (x-amz-grant-*) are not supported; use a "
                                    "canned ACL (x-amz-acl)", s3_code="NotImplemented")
    acl = req.headers.get("x-amz-acl")
    if acl is None:
        return None
    acl = acl.strip()
    allowed = BUCKET_CANNED if bucket else OBJECT_CANNED
    if acl not in allowed:
        if bucket and acl in OBJECT_CANNED:
            return "private"   # bucket-owner-* on a bucket: the owner already has full control
        raise Invalid(f"Invalid canned ACL {acl!r}", s3_code="InvalidArgument",
                      ArgumentName="x-amz-acl", ArgumentValue=acl)
    return acl


def _grant(grantee: str, permission: str) -> str:
    return f"<Grant>{grantee}{el('Permission', permission)}</Grant>"


def _user(owner_id: str) -> str:
    return (f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">{el("ID", owner_id)}'
            f'{el("DisplayName", display_name(owner_id))}</Grantee>')


def _group(uri: str) -> str:
    return f'<Grantee xmlns:xsi="{XSI}" xsi:type="Group">{el("URI", uri)}</Grantee>'


def policy_document(owner_id: str, acl: str | None, bucket_owner: str | None = None) -> bytes:
    """AccessControlPolicy for a canned ACL."""
    acl = acl or "private"
    # Group grants first, then the owner's FULL_CONTROL: the order Ceph RGW answers in.
    grants = []
    if acl in ("public-read", "public-read-write"):
        grants.append(_grant(_group(ALL_USERS), "READ"))
    if acl == "public-read-write":
        grants.append(_grant(_group(ALL_USERS), "WRITE"))
    if acl == "authenticated-read":
        grants.append(_grant(_group(AUTH_USERS), "READ"))
    grants.append(_grant(_user(owner_id), "FULL_CONTROL"))
    if acl in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner \
            and bucket_owner != owner_id:
        perm = "READ" if acl == "bucket-owner-read" else "FULL_CONTROL"
        grants.append(_grant(_user(bucket_owner), perm))
    return xml.doc("AccessControlPolicy", owner_xml(owner_id),
                   "<AccessControlList>", grants, "</AccessControlList>")


async def canned_from_body(req: S3Request, body: bytes, owner_id: str) -> str:
    """Map an AccessControlPolicy document onto the canned ACL it is equivalent to."""
    root = xml.parse(body, root="AccessControlPolicy")
    acl_node = xml.child(root, "AccessControlList")
    if acl_node is None:
        raise xml.malformed()
    grants: set[tuple[str, str]] = set()
    for g in xml.children(acl_node, "Grant"):
        grantee = xml.child(g, "Grantee")
        perm = (xml.text(g, "Permission") or "").strip()
        if grantee is None or perm not in ("READ", "WRITE", "READ_ACP", "WRITE_ACP",
                                           "FULL_CONTROL"):
            raise xml.malformed()
        uri = xml.text(grantee, "URI")
        gid = xml.text(grantee, "ID")
        if uri is not None:
            if uri.strip() not in (ALL_USERS, AUTH_USERS, LOG_DELIVERY):
                raise Invalid(f"Invalid group uri {uri.strip()!r}", s3_code="InvalidArgument",
                              ArgumentName="uri", ArgumentValue=uri.strip())
            grants.add((uri.strip(), perm))
        elif gid is not None:
            grants.add(("user:" + gid.strip(), perm))
        elif xml.text(grantee, "EmailAddress") is not None:
            # Kosha's users have no e-mail addresses: no grant by address can resolve.
            raise Invalid("The e-mail address you provided does not match any account on "
                          "record.", s3_code="UnresolvableGrantByEmailAddress",
                          ArgumentName="EmailAddress",
                          ArgumentValue=xml.text(grantee, "EmailAddress"))
        else:
            raise xml.malformed()
    for who, _perm in grants:
        if who.startswith("user:") and who != "user:" + owner_id \
                and not await req.kosha.accounts.user_exists(who[5:]):
            raise Invalid("Invalid id", s3_code="InvalidArgument", ArgumentName="CanonicalUser/ID",
                          ArgumentValue=who[5:])
    others = {g for g in grants if g[0] != "user:" + owner_id}
    if not others:
        return "private"
    if others == {(ALL_USERS, "READ")}:
        return "public-read"
    if others == {(ALL_USERS, "READ"), (ALL_USERS, "WRITE")}:
        return "public-read-write"
    if others == {(AUTH_USERS, "READ")}:
        return "authenticated-read"
    raise NotImplementedYet("Only ACLs equivalent to a canned ACL (private, public-read, "
                            "public-read-write, authenticated-read) are supported",
                            s3_code="NotImplemented")


async def _requested_acl(req: S3Request, owner_id: str, *, bucket: bool) -> str:
    canned = canned_from_headers(req, bucket=bucket)
    body = await req.read_body(256 * 1024)
    if canned is not None:
        if body.strip():
            raise Invalid("Specifying both Canned ACLs and Header Grants is not allowed",
                          s3_code="UnexpectedContent")
        return canned
    if not body.strip():
        raise Invalid("The request must contain either an x-amz-acl header or an "
                      "AccessControlPolicy document", s3_code="MissingSecurityHeader")
    return await canned_from_body(req, body, owner_id)


# --------------------------------------------------------------------------- handlers

async def get_bucket_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    return xml_response(policy_document(bucket.owner, bucket.acl))


async def put_bucket_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    acl = await _requested_acl(req, bucket.owner, bucket=True)
    await req.kosha.buckets.update(req.principal, bucket.name, acl=acl)
    return empty_response(200)


async def get_object_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    version = await req.kosha.objects.head(req.principal, bucket.name, req.key,
                                           req.version_id(),
                                           action="kos:GetObjectAcl")
    resp = xml_response(policy_document(version.owner or bucket.owner, version.acl,
                                        bucket.owner))
    if bucket.versioning:
        resp.add("x-amz-version-id", version.version_id)
    return resp


async def put_object_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    version_id = req.version_id()
    current = await req.kosha.objects.head(req.principal, bucket.name, req.key, version_id,
                                           action="kos:PutObjectAcl")
    acl = await _requested_acl(req, current.owner or bucket.owner, bucket=False)
    updated = await req.kosha.objects.update_version(req.principal, bucket.name, req.key,
                                                     current.version_id, acl=acl)
    resp = empty_response(200)
    if bucket.versioning:
        resp.add("x-amz-version-id", updated.version_id)
    return resp


def object_acl_for_new(req: S3Request) -> str | None:
    return canned_from_headers(req, bucket=False)


__all__: list[Any] = ["owner_xml", "canned_from_headers", "policy_document"]
