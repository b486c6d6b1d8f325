"""The entities services hand to the HTTP layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The storage classes S3 clients may name; all are stored alike (docs/s3-compatibility.md).
STORAGE_CLASSES = frozenset({
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE",
})

@dataclass
class Bucket:
    name: str
    krn: str
    account_id: str
    owner: str
    region: str
    tier: str
    description: str | None
    tags: dict[str, Any]
    versioning: str              # "", "Enabled", "Suspended"
    anonymous_access: bool
    acl: str
    cors: list[dict[str, Any]] | None
    status: str
    allocated_capacity: int | None
    used_capacity: int
    object_count: int
    created_at: float
    policy: str | None = None                         # S3 bucket policy document (JSON text)
    ownership: str | None = None                      # S3 ObjectOwnership; None: ObjectWriter
    public_access_block: dict[str, bool] | None = None
    notification: list[dict[str, Any]] | None = None   # kosha.notify.config, canonical form

    @property
    def versioning_enabled(self) -> bool:
        return self.versioning == "Enabled"

    @classmethod
    def from_row(cls, row: Any) -> Bucket:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


@dataclass
class ObjectVersion:
    bucket: str
    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int
    etag: str                    # without quotes
    content_type: str | None
    storage_class: str
    last_modified: float
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    acl: str | None = None
    owner: str | None = None
    blobs: list[list[Any]] = field(default_factory=list)   # [[blob_id, size], ...]
    inline_data: bytes | None = None
    part_sizes: list[int] | None = None
    part_checksums: list[str] | None = None
    seq: int = 0

    @classmethod
    def from_row(cls, row: Any) -> ObjectVersion:
        """A version from a whole row, or from a listing's (only `store.objects.LISTED`'s
        columns: the others are left empty)."""
        m = row._mapping
        return cls(
            bucket=m["bucket"], key=m["key"], version_id=m["version_id"], is_latest=m["is_latest"],
            is_delete_marker=m["is_delete_marker"], size=m["size"], etag=m["etag"],
            content_type=m.get("content_type"), storage_class=m["storage_class"],
            last_modified=m["last_modified"], headers=m.get("headers") or {},
            user_meta=m.get("user_meta") or {}, checksums=m["checksums"] or {},
            tags=m.get("tags") or {}, acl=m.get("acl"), owner=m["owner"],
            blobs=m.get("blobs") or [], inline_data=m.get("inline_data"),
            part_sizes=m.get("part_sizes"), part_checksums=m.get("part_checksums"), seq=m["seq"],
        )

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'

    @property
    def version_id_or_null(self) -> str:
        return self.version_id


@dataclass
class ObjectListing:
    """One page of a listing: objects and common prefixes, in key order."""
    objects: list[ObjectVersion]
    prefixes: list[str]
    is_truncated: bool
    next_marker: str | None       # the last key or prefix returned, to continue after


@dataclass
class VersionListing:
    versions: list[ObjectVersion]  # delete markers included, newest first within a key
    prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None
