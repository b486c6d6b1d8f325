"""AWS Signature Version 4 (and Version 2, `v2.py`) for Kosha's S3 API: request auth, payload
integrity, checksums.

Typical use from an S3 request handler::

    auth = (parse_v2_auth(method, raw_path, query_string, headers, bucket)
            or parse_request_auth(method, raw_path, query_string, headers))
    signed = None
    if auth is not None:
        secret = lookup_secret(auth.access_key)          # None -> raise invalid_access_key(...)
        signed = auth.verify(secret, datetime.now(timezone.utc))
    payload = wrap_payload(receive_body_chunks(), scope["headers"], signed)
    async for piece in payload: ...                      # commit only after clean exhaustion
"""

from kosha.s3.signature.checksum import (
    ChecksumSpec, checksum_from_headers, composite_checksum, new_checksum,
)
from kosha.s3.signature.payload import Payload, strip_aws_chunked, wrap_payload
from kosha.s3.signature.streaming import ChunkedDecoder
from kosha.s3.signature.v2 import V2Auth, parse_v2_auth
from kosha.s3.signature.v4 import (
    INVALID_ACCESS_KEY_MESSAGE, SIGNATURE_MISMATCH_MESSAGE, AuthorizationHeader, RequestAuth,
    SignedRequest, invalid_access_key, parse_authorization, parse_request_auth, presign_url,
    verify_header_auth,
)

__all__ = [
    "AuthorizationHeader", "ChecksumSpec", "ChunkedDecoder", "INVALID_ACCESS_KEY_MESSAGE",
    "Payload", "RequestAuth", "SIGNATURE_MISMATCH_MESSAGE", "SignedRequest",
    "checksum_from_headers", "composite_checksum", "invalid_access_key", "new_checksum",
    "parse_authorization", "parse_request_auth", "presign_url", "strip_aws_chunked",
    "verify_header_auth", "wrap_payload", "V2Auth", "parse_v2_auth",
]
