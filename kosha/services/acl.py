"""Access control lists as S3 has them: grants of READ, WRITE, READ_ACP, WRITE_ACP or
FULL_CONTROL to a canonical user id (a Kosha user's kcid) or to the AllUsers,
AuthenticatedUsers or LogDelivery groups, on buckets and on object versions.

Stored in the `acl` column of a bucket, an object version or a multipart upload: the canned
ACL's name when the grants are exactly what that canned ACL gives (the common case, and what
older rows hold), else the grants as JSON (`[["id:<kcid>", "READ"], ["uri:<group>", "WRITE"]]`).
The owner's FULL_CONTROL is part of the grants, as S3 reports it.

What each permission allows (enforced by `bucket_access.py`): on a bucket, READ lists it, WRITE
creates, overwrites and deletes its objects, READ_ACP/WRITE_ACP read/write its ACL; on an
object, READ reads it (and its metadata), READ_ACP/WRITE_ACP its ACL. FULL_CONTROL is all four.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache

READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL = "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"
PERMISSIONS = (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL)
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTH_USERS, LOG_DELIVERY)
PUBLIC_GROUPS = frozenset({f"uri:{ALL_USERS}", f"uri:{AUTH_USERS}"})
BUCKET_CANNED = ("private", "public-read", "public-read-write", "authenticated-read")
OBJECT_CANNED = BUCKET_CANNED + ("aws-exec-read", "bucket-owner-read", "bucket-owner-full-control")
MAX_GRANTS = 100

Grant = tuple[str, str]          # ("id:<kcid>" | "uri:<group uri>", permission)
Grants = tuple[Grant, ...]


def canned_grants(name: str, owner: str, bucket_owner: str | None = None) -> Grants:
    """The grants a canned ACL stands for (S3's table), the owner's FULL_CONTROL first."""
    grants: list[Grant] = [(f"id:{owner}", FULL_CONTROL)]
    if name in ("public-read", "public-read-write"):
        grants.append((f"uri:{ALL_USERS}", READ))
    if name == "public-read-write":
        grants.append((f"uri:{ALL_USERS}", WRITE))
    if name == "authenticated-read":
        grants.append((f"uri:{AUTH_USERS}", READ))
    if name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner \
            and bucket_owner != owner:
        grants.append((f"id:{bucket_owner}", READ if name == "bucket-owner-read" else FULL_CONTROL))
    return tuple(grants)


@lru_cache(maxsize=4096)
def decode(stored: str | None, owner: str, bucket_owner: str | None = None) -> Grants:
    """The grants a stored `acl` value holds (None or unknown: private)."""
    if stored and stored[:1] == "[":
        try:
            return tuple((str(g), str(p)) for g, p in json.loads(stored))
        except (ValueError, TypeError):
            return canned_grants("private", owner)
    return canned_grants(stored or "private", owner, bucket_owner)


def encode(grants: Iterable[Grant], owner: str, bucket_owner: str | None = None) -> str:
    """What to store for these grants: a canned ACL's name where one gives exactly them."""
    unique = tuple(dict.fromkeys(grants))
    wanted = set(unique)
    for name in OBJECT_CANNED:
        if set(canned_grants(name, owner, bucket_owner)) == wanted:
            return name
    return json.dumps([list(g) for g in unique], separators=(",", ":"))


def is_canned(stored: str | None) -> bool:
    return not stored or stored[:1] != "["


def permits(grants: Grants, permission: str, kcid: str, *, ignore_public: bool = False) -> bool:
    """Does any grant give `permission` to this caller (kcid '' = anonymous)?"""
    for grantee, granted in grants:
        if granted != permission and granted != FULL_CONTROL:
            continue
        if grantee == f"uri:{ALL_USERS}":
            if not ignore_public:
                return True
        elif grantee == f"uri:{AUTH_USERS}":
            if kcid and not ignore_public:
                return True
        elif kcid and grantee == f"id:{kcid}":
            return True
    return False


def is_public(grants: Iterable[Grant]) -> bool:
    return any(g in PUBLIC_GROUPS for g, _ in grants)


def grants_all_users_read(grants: Iterable[Grant]) -> bool:
    return any(g == f"uri:{ALL_USERS}" and p in (READ, FULL_CONTROL) for g, p in grants)


def with_all_users_read(grants: Grants, on: bool) -> Grants:
    """The grants with the AllUsers READ grant added or removed (KOS `anonymous_access`)."""
    rest = tuple(g for g in grants if not (g[0] == f"uri:{ALL_USERS}" and g[1] == READ))
    return rest + (((f"uri:{ALL_USERS}", READ),) if on else ())


def user_ids(grants: Iterable[Grant]) -> set[str]:
    return {g[3:] for g, _ in grants if g.startswith("id:")}
