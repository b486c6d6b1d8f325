"""The one hierarchy of domain errors.

Services raise these; `kosha.api.errors` maps them to KOS JSON and `kosha.s3.error` to S3 XML.
Each class carries its HTTP status and a default S3 error code; a raise site may name a more
precise S3 code (``NotFound("...", s3_code="NoSuchKey")``).
"""

from __future__ import annotations


class KoshaError(Exception):
    status: int = 500
    s3_code: str = "InternalError"

    def __init__(self, message: str, *, s3_code: str | None = None, status: int | None = None,
                 **details: object) -> None:
        super().__init__(message)
        self.message = message
        if s3_code is not None:
            self.s3_code = s3_code
        if status is not None:
            self.status = status
        self.details = details


class Invalid(KoshaError):
    """Bad input: 400 (or 422 where a handler says so)."""
    status = 400
    s3_code = "InvalidArgument"


class Unprocessable(Invalid):
    status = 422


class Unauthenticated(KoshaError):
    status = 401
    s3_code = "AccessDenied"


class Forbidden(KoshaError):
    status = 403
    s3_code = "AccessDenied"


class NotFound(KoshaError):
    status = 404
    s3_code = "NoSuchKey"


class MethodNotAllowed(KoshaError):
    status = 405
    s3_code = "MethodNotAllowed"


class Conflict(KoshaError):
    status = 409
    s3_code = "Conflict"


class PreconditionFailed(KoshaError):
    status = 412
    s3_code = "PreconditionFailed"


class NotModified(KoshaError):
    status = 304
    s3_code = "NotModified"


class RangeNotSatisfiable(KoshaError):
    status = 416
    s3_code = "InvalidRange"


class TooLarge(KoshaError):
    status = 400
    s3_code = "EntityTooLarge"


class QuotaExceeded(KoshaError):
    """A write past a bucket's allocatedCapacity."""
    status = 403
    s3_code = "QuotaExceeded"


class TooManyRequests(KoshaError):
    status = 429
    s3_code = "SlowDown"

    def __init__(self, message: str, *, retry_after: int = 1, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class NotImplementedYet(KoshaError):
    status = 501
    s3_code = "NotImplemented"


class Unavailable(KoshaError):
    """A fault the client can wait out (storage read-only or gone, database locked or down):
    503 with Retry-After."""
    status = 503
    s3_code = "ServiceUnavailable"

    def __init__(self, message: str, *, retry_after: int = 2, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class InsufficientStorage(KoshaError):
    """The disk (or quota) under the data directory is full: nothing of the write is stored.

    S3 has no code of its own for this; MinIO's `XMinioStorageFull` (507) is what S3 tools
    already recognise."""
    status = 507
    s3_code = "XMinioStorageFull"
