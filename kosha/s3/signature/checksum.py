"""S3 additional checksums on the wire: which ``x-amz-checksum-*`` a request carries.

The algorithms themselves live in kosha/checksums.py (the services need them too).
"""

from __future__ import annotations

from dataclasses import dataclass

from kosha.checksums import (ALGORITHMS, HAS_FAST_CRC, Checksum, _DIGEST_SIZE,  # noqa: F401
                             composite_checksum, digest_size, new_checksum, validate_b64)
from kosha.errors import Invalid
from kosha.s3.signature.headers import HeaderInput, first, header_map


@dataclass(frozen=True, slots=True)
class ChecksumSpec:
    """The checksum a request asks S3 to verify.

    ``value`` is the base64 digest from the header, or None when it arrives later as an
    aws-chunked trailer (``location == "trailer"``).
    """

    algorithm: str  # lowercase, one of ALGORITHMS
    value: str | None
    location: str  # "header" | "trailer"

    @property
    def header(self) -> str:
        """The header/trailer name carrying the value, e.g. ``x-amz-checksum-crc32``."""
        return "x-amz-checksum-" + self.algorithm


def checksum_from_headers(headers: HeaderInput) -> ChecksumSpec | None:
    """Which additional checksum the client sent, or None.

    Looks at ``x-amz-checksum-<alg>`` (value in a header), ``x-amz-trailer`` (value follows the
    aws-chunked body) and ``x-amz-sdk-checksum-algorithm`` (must agree with either). Raises
    ``Invalid(InvalidRequest)`` for the inconsistencies S3 rejects, so a bad request fails before
    the body is read.
    """
    hm = header_map(headers)
    found = [(a, hm["x-amz-checksum-" + a]) for a in ALGORITHMS if "x-amz-checksum-" + a in hm]
    trailer = first(hm, "x-amz-trailer")
    sdk_alg = first(hm, "x-amz-sdk-checksum-algorithm")
    if len(found) > 1:
        raise Invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types are "
                      "not allowed.", s3_code="InvalidRequest")
    spec: ChecksumSpec | None = None
    if found:
        algorithm, values = found[0]
        value = values[0].strip()
        if not validate_b64(algorithm, value):
            raise Invalid(f"Value for x-amz-checksum-{algorithm} header is invalid.",
                          s3_code="InvalidRequest")
        spec = ChecksumSpec(algorithm, value, "header")
    if trailer is not None:
        names = [t.strip().lower() for t in trailer.split(",") if t.strip()]
        algs = [n[len("x-amz-checksum-"):] for n in names if n.startswith("x-amz-checksum-")]
        if len(algs) > 1 or (algs and spec is not None):
            raise Invalid("Expecting a single x-amz-checksum- header. Multiple checksum Types "
                          "are not allowed.", s3_code="InvalidRequest")
        if algs:
            if algs[0] not in _DIGEST_SIZE:
                raise Invalid("The value specified in the x-amz-trailer header is not supported",
                              s3_code="InvalidRequest")
            spec = ChecksumSpec(algs[0], None, "trailer")
    if sdk_alg is not None:
        a = sdk_alg.strip().lower()
        if a not in _DIGEST_SIZE:
            raise Invalid("Value for x-amz-sdk-checksum-algorithm header is invalid.",
                          s3_code="InvalidRequest")
        if spec is None:
            raise Invalid("x-amz-sdk-checksum-algorithm specified, but no corresponding "
                          "x-amz-checksum-* or x-amz-trailer headers were found.",
                          s3_code="InvalidRequest")
        if spec.algorithm != a:
            raise Invalid("Value for x-amz-sdk-checksum-algorithm header is invalid.",
                          s3_code="InvalidRequest")
    return spec
