"""Which deployment a blob location belongs to, so garbage collection never empties another's.

Garbage collection deletes every blob its database does not reference. Pointed at the wrong
database (a `kosha gc --data DIR` that forgot `--database-url`, a second deployment given the
same bucket and prefix), it would delete every blob of the right one. So the first collection
writes the database's deployment id (identity.deployment_id) into the location as `kosha-owner`,
and every collection first checks that it matches.
"""

from __future__ import annotations

from .blobs import BlobStore

MARK = "kosha-owner"


class ForeignBlobLocation(ValueError):
    """The blob location belongs to another deployment: collecting here would destroy its data."""


def check_owner(blobs: BlobStore, deployment: str, where: str) -> None:
    found = blobs.read_mark(MARK)
    if found is None:
        blobs.write_mark(MARK, deployment)
        found = blobs.read_mark(MARK)
    if found != deployment:
        raise ForeignBlobLocation(
            f"the blobs at {where} belong to another deployment (its {MARK} names {found!r}, this "
            f"database is {deployment!r}): garbage collection refused, nothing was deleted; check "
            "--database-url and --blobs")
