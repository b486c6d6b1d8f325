"""The additional checksum of a multipart upload, as S3 has it.

An upload created with `x-amz-checksum-algorithm` gets a checksum for every part (computed here
while the part streams in, and checked against the one the client sent) and one for the object at
completion: COMPOSITE (the checksum of the parts' checksums, `-N` appended) or FULL_OBJECT (the
CRC of the whole object, combined from the parts' CRCs without reading them). S3's rules on which
algorithm allows which type are enforced at creation, so completion cannot fail on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checksums import (ALGORITHMS, CRC_ALGORITHMS, Checksum, composite_checksum,
                         full_object_checksum, new_checksum)
from ..errors import Invalid

COMPOSITE, FULL_OBJECT = "COMPOSITE", "FULL_OBJECT"


def upload_checksum(algorithm: str | None, kind: str | None) -> tuple[str | None, str | None]:
    """The (ALGORITHM, TYPE) an upload is created with, or refused with S3's InvalidRequest."""
    if algorithm is None:
        if kind is not None:
            raise Invalid("The x-amz-checksum-type header can only be used with the "
                          "x-amz-checksum-algorithm header.", s3_code="InvalidRequest")
        return None, None
    algorithm = algorithm.strip().lower()
    if algorithm not in ALGORITHMS:
        raise Invalid("Checksum algorithm provided is unsupported.", s3_code="InvalidRequest")
    if kind is None:
        kind = FULL_OBJECT if algorithm == "crc64nvme" else COMPOSITE
    kind = kind.strip().upper()
    if kind not in (COMPOSITE, FULL_OBJECT):
        raise Invalid("Value for x-amz-checksum-type header is invalid.", s3_code="InvalidRequest")
    if kind == FULL_OBJECT and algorithm not in CRC_ALGORITHMS:
        raise Invalid(f"The {algorithm.upper()} algorithm is not supported for the FULL_OBJECT "
                      "checksum type.", s3_code="InvalidRequest")
    if kind == COMPOSITE and algorithm == "crc64nvme":
        raise Invalid("The COMPOSITE checksum type cannot be used with the CRC64NVME checksum "
                      "algorithm.", s3_code="InvalidRequest")
    return algorithm.upper(), kind


def part_hasher(algorithm: str | None, verified: str | None = None) -> Checksum | None:
    """The running checksum a part needs, or None when the client sends the same algorithm's
    value and the body's check verifies it anyway (`verified`): one pass over the bytes, not two."""
    if not algorithm or (verified is not None and verified.upper() == algorithm):
        return None
    return new_checksum(algorithm)


def part_checksums(algorithm: str | None, hasher: Checksum | None,
                   sent: Mapping[str, str]) -> dict[str, str]:
    """What a part records: the upload's algorithm, computed here or the client's value of it
    (verified against the bytes); another algorithm is refused, as S3 does."""
    if algorithm is None:
        return dict(sent)
    other = [alg for alg in sent if alg.upper() != algorithm]
    if other:
        raise Invalid(f"Checksum Type mismatch occurred, expected checksum Type: "
                      f"{algorithm.lower()}, actual checksum Type: {other[0].lower()}",
                      s3_code="InvalidRequest")
    if hasher is None:
        value = next((v for alg, v in sent.items() if alg.upper() == algorithm), None)
        if value is None:
            raise Invalid(f"The part's {algorithm.lower()} checksum is missing.",
                          s3_code="InvalidRequest")
        return {algorithm: value}
    return {algorithm: hasher.b64digest()}


@dataclass(frozen=True)
class CompletionChecksums:
    """What a CompleteMultipartUpload request says about checksums: each listed part's values (in
    request order) and the object's value and type from the `x-amz-checksum-*` headers."""

    parts: Sequence[Mapping[str, str]] = ()
    declared: Mapping[str, str] = field(default_factory=dict)
    declared_type: str | None = None


def object_checksum(algorithm: str | None, kind: str | None, chosen: Sequence[Any],
                    request: CompletionChecksums) -> dict[str, str]:
    """The completed object's checksum from its parts' rows (`checksums`, `size`), after the
    request's own values are checked: a part's mismatch is InvalidPart, the object's BadDigest."""
    if algorithm is None:
        return {}
    kind = kind or COMPOSITE
    if request.declared_type and request.declared_type.strip().upper() != kind:
        raise Invalid(f"The upload was created using the {kind} checksum mode. The complete "
                      f"request must use the same checksum mode.", s3_code="InvalidRequest")
    values: list[tuple[str, int]] = []
    for i, row in enumerate(chosen):
        value = (row.checksums or {}).get(algorithm)
        sent = request.parts[i].get(algorithm) if i < len(request.parts) else None
        if value is None or (sent is not None and sent != value):
            raise Invalid(f"The {algorithm.lower()} checksum of part {row.part_number} does not "
                          "match the one uploaded, or the part has none.", s3_code="InvalidPart")
        values.append((value, row.size))
    if kind == FULL_OBJECT:
        total = full_object_checksum(algorithm, values)
    else:
        total = composite_checksum(algorithm, (value for value, _size in values))
    declared = request.declared.get(algorithm)
    if declared is not None and declared.split("-")[0] != total.split("-")[0]:
        raise Invalid(f"The {algorithm.lower()} you specified did not match the calculated "
                      "checksum.", s3_code="BadDigest")
    return {algorithm: total}
