"""The blob store a `--blobs` location names: files (LocalBlobStore) or an S3 cluster (S3BlobStore)."""

from __future__ import annotations

from .blob_location import BlobLocation, FileLocation, credentials
from .blobs import BlobStore, LocalBlobStore
from .reserve import SpaceReserve


def open_blob_store(location: BlobLocation, reserve: SpaceReserve | None) -> BlobStore:
    if isinstance(location, FileLocation):
        return LocalBlobStore(location.path, reserve)
    from .blobs_s3 import S3BlobStore   # obstore is loaded only where it is used
    return S3BlobStore(location, credentials(location))
