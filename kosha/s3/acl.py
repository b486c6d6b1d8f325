"""ACLs on the wire: canned `x-amz-acl`, `x-amz-grant-*` headers and `AccessControlPolicy`
documents in, `AccessControlPolicy` documents out. The rules (what a grant allows, ownership
controls, the public access block) are in services/acl.py and services/bucket_access.py.

A canonical user id is a Kosha user's kcid; it is also its DisplayName, everywhere an owner is
shown (ListBuckets, listings, ACLs).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Invalid
from ..services import acl as acls
from . import xml
from .request import S3Request, S3Response, empty_response, xml_response
from .xml import el

BUCKET_CANNED = acls.BUCKET_CANNED
OBJECT_CANNED = acls.OBJECT_CANNED
ALL_USERS, AUTH_USERS, LOG_DELIVERY = acls.ALL_USERS, acls.AUTH_USERS, acls.LOG_DELIVERY
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GRANT_HEADERS = {"x-amz-grant-read": acls.READ, "x-amz-grant-write": acls.WRITE,
                 "x-amz-grant-read-acp": acls.READ_ACP, "x-amz-grant-write-acp": acls.WRITE_ACP,
                 "x-amz-grant-full-control": acls.FULL_CONTROL}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"?([^",]*)"?\s*(?:,|$)', re.IGNORECASE)


def owner_xml(owner_id: str | None, tag: str = "Owner") -> str:
    oid = owner_id or ""
    return f"<{tag}>{el('ID', oid)}{el('DisplayName', display_name(oid))}</{tag}>"


def display_name(owner_id: str) -> str:
    """Owners are named by their user id (kcid); it doubles as the display name."""
    return owner_id


def _invalid_canned(acl: str) -> Invalid:
    return Invalid(f"Invalid canned ACL {acl!r}", s3_code="InvalidArgument",
                   ArgumentName="x-amz-acl", ArgumentValue=acl)


def _email_unresolvable(address: str) -> Invalid:
    # Kosha's users have no e-mail addresses: no grant by address can resolve.
    return Invalid("The e-mail address you provided does not match any account on record.",
                   s3_code="UnresolvableGrantByEmailAddress", ArgumentName="EmailAddress",
                   ArgumentValue=address)


def _group(uri: str) -> str:
    uri = uri.strip()
    if uri not in acls.GROUPS:
        raise Invalid(f"Invalid group uri {uri!r}", s3_code="InvalidArgument",
                      ArgumentName="uri", ArgumentValue=uri)
    return f"uri:{uri}"


def grants_from_headers(req: S3Request) -> acls.Grants | None:
    """The grants of `x-amz-grant-*` headers (None when there are none)."""
    grants: list[acls.Grant] = []
    for header, permission in GRANT_HEADERS.items():
        value = req.headers.get(header)
        if value is None:
            continue
        pos = 0
        while pos < len(value):
            found = _GRANTEE.match(value, pos)
            if found is None or found.end() == pos:
                raise Invalid(f"Invalid {header} header", s3_code="InvalidArgument",
                              ArgumentName=header, ArgumentValue=value)
            kind, who = found.group(1).lower(), found.group(2).strip()
            if kind == "id":
                grants.append((f"id:{who}", permission))
            elif kind == "uri":
                grants.append((_group(who), permission))
            else:
                raise _email_unresolvable(who)
            pos = found.end()
    if len(grants) > acls.MAX_GRANTS:
        raise Invalid("Too many grants", s3_code="InvalidArgument")
    return tuple(grants) if grants else None


def canned_from_headers(req: S3Request, *, bucket: bool) -> str | acls.Grants | None:
    """The ACL a write asks for: the canned `x-amz-acl` (validated), the `x-amz-grant-*`
    grants, or None. Both at once is InvalidRequest, as on S3."""
    grants = grants_from_headers(req)
    acl = req.headers.get("x-amz-acl")
    if acl is None:
        return grants
    if grants is not None:
        raise Invalid("Specifying both Canned ACLs and Header Grants is not allowed",
                      s3_code="InvalidRequest")
    acl = acl.strip()
    if acl not in (BUCKET_CANNED if bucket else OBJECT_CANNED):
        if bucket and acl in OBJECT_CANNED:
            return "private"   # bucket-owner-* on a bucket: the owner already has full control
        raise _invalid_canned(acl)
    return acl


def grants_from_body(body: bytes) -> acls.Grants:
    """The grants of an AccessControlPolicy document."""
    root = xml.parse(body, root="AccessControlPolicy")
    acl_node = xml.child(root, "AccessControlList")
    if acl_node is None:
        raise xml.malformed()
    grants: list[acls.Grant] = []
    for g in xml.children(acl_node, "Grant"):
        grantee = xml.child(g, "Grantee")
        perm = (xml.text(g, "Permission") or "").strip()
        if grantee is None or perm not in acls.PERMISSIONS:
            raise xml.malformed()
        uri, gid = xml.text(grantee, "URI"), xml.text(grantee, "ID")
        if uri is not None:
            grants.append((_group(uri), perm))
        elif gid is not None and gid.strip():
            grants.append((f"id:{gid.strip()}", perm))
        elif xml.text(grantee, "EmailAddress") is not None:
            raise _email_unresolvable(xml.text(grantee, "EmailAddress") or "")
        else:
            raise xml.malformed()
    if len(grants) > acls.MAX_GRANTS:
        raise Invalid("Too many grants", s3_code="InvalidArgument")
    return tuple(dict.fromkeys(grants))


def _grantee_xml(grantee: str) -> str:
    if grantee.startswith("uri:"):
        return f'<Grantee xmlns:xsi="{XSI}" xsi:type="Group">{el("URI", grantee[4:])}</Grantee>'
    user = grantee[3:]
    return (f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">{el("ID", user)}'
            f'{el("DisplayName", display_name(user))}</Grantee>')


def policy_document(owner_id: str, grants: acls.Grants) -> bytes:
    """AccessControlPolicy for these grants; group grants first (the order Ceph RGW answers in)."""
    ordered = sorted(grants, key=lambda g: not g[0].startswith("uri:"))
    items = [f"<Grant>{_grantee_xml(g)}{el('Permission', p)}</Grant>" for g, p in ordered]
    return xml.doc("AccessControlPolicy", owner_xml(owner_id),
                   "<AccessControlList>", items, "</AccessControlList>")


async def _requested(req: S3Request, *, bucket: bool) -> tuple[str | None, acls.Grants | None]:
    """(canned, grants) of a Put*Acl: from the headers or the body, exactly one of them."""
    asked = canned_from_headers(req, bucket=bucket)
    body = await req.read_body(256 * 1024)
    if asked is not None:
        if body.strip():
            raise Invalid("Specifying both Canned ACLs and Header Grants is not allowed",
                          s3_code="UnexpectedContent")
        return (asked, None) if isinstance(asked, str) else (None, asked)
    if not body.strip():
        raise Invalid("The request must contain either an x-amz-acl header or an "
                      "AccessControlPolicy document", s3_code="MissingSecurityHeader")
    return None, grants_from_body(body)


# --------------------------------------------------------------------------- handlers

async def get_bucket_acl(req: S3Request) -> S3Response:
    assert req.bucket is not None
    bucket, grants = await req.kosha.access.bucket_acl(req.principal, req.bucket)
    return xml_response(policy_document(bucket.owner, grants))


async def put_bucket_acl(req: S3Request) -> S3Response:
    assert req.bucket is not None
    canned, grants = await _requested(req, bucket=True)
    await req.kosha.access.put_bucket_acl(req.principal, req.bucket, canned, grants)
    return empty_response(200)


async def get_object_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    version = await req.kosha.objects.head(req.principal, bucket.name, req.key,
                                           req.version_id(), action="kos:GetObjectAcl")
    grants = req.kosha.access.object_grants(bucket, version)
    owner = (bucket.owner if bucket.ownership == "BucketOwnerEnforced"
             else version.owner or bucket.owner)
    resp = xml_response(policy_document(owner, grants))
    if bucket.versioning:
        resp.add("x-amz-version-id", version.version_id)
    return resp


async def put_object_acl(req: S3Request) -> S3Response:
    bucket = await req.bucket_for()
    assert req.key is not None
    canned, grants = await _requested(req, bucket=False)
    updated = await req.kosha.objects.put_acl(req.principal, bucket.name, req.key,
                                              req.version_id(), canned, grants)
    resp = empty_response(200)
    if bucket.versioning:
        resp.add("x-amz-version-id", updated.version_id)
    return resp


def object_acl_for_new(req: S3Request) -> Any:
    return canned_from_headers(req, bucket=False)
