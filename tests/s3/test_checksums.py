"""Additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) on PutObject, UploadPart and
CompleteMultipartUpload, COMPOSITE and FULL_OBJECT, as boto3 sends and reads them."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kosha.checksums import new_checksum

MiB = 1024 * 1024
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def b64(algorithm: str, data: bytes) -> str:
    h = new_checksum(algorithm)
    h.update(data)
    return h.b64digest()


def composite(algorithm: str, parts: list[bytes]) -> str:
    h = new_checksum(algorithm)
    for part in parts:
        h.update(base64.b64decode(b64(algorithm, part)))
    return f"{h.b64digest()}-{len(parts)}"


def code(err: Any) -> str:
    return str(err.value.response["Error"]["Code"])


def upload(s3: Any, bucket: str, key: str, parts: list[bytes], algorithm: str,
           kind: str | None = None, **complete: Any) -> dict[str, Any]:
    create = {"ChecksumAlgorithm": algorithm, **({"ChecksumType": kind} if kind else {})}
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for number, body in enumerate(parts, 1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=number,
                                Body=body, ChecksumAlgorithm=algorithm)
        done.append({"PartNumber": number, "ETag": answer["ETag"],
                     f"Checksum{algorithm}": answer[f"Checksum{algorithm}"]})
    return dict(s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                             MultipartUpload={"Parts": done}, **complete))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_object_checksum_is_verified_and_returned_with_checksum_mode(s3: Any, bucket: str,
                                                                         algorithm: str) -> None:
    body = os.urandom(70_000)
    put = s3.put_object(Bucket=bucket, Key="o", Body=body, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == b64(algorithm, body)
    head = s3.head_object(Bucket=bucket, Key="o", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == b64(algorithm, body)
    assert head["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_object_with_a_wrong_checksum_is_bad_digest_and_stores_nothing(s3: Any, bucket: str,
                                                                          algorithm: str) -> None:
    wrong = b64(algorithm, b"something else")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload", **{f"Checksum{algorithm}": wrong})
    assert code(err) in ("BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_multipart_checksum_is_the_checksum_of_the_part_checksums(
        s3: Any, bucket: str, algorithm: str) -> None:
    parts = [os.urandom(5 * MiB), b"tail"]
    done = upload(s3, bucket, "c", parts, algorithm)
    assert done[f"Checksum{algorithm}"] == composite(algorithm, parts)
    assert done["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert (head[f"Checksum{algorithm}"], head["ChecksumType"]) == (composite(algorithm, parts),
                                                                   "COMPOSITE")


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_multipart_checksum_with_the_right_value_completes(s3: Any, bucket: str,
                                                                       algorithm: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"end"]
    whole = b64(algorithm, b"".join(parts))
    done = upload(s3, bucket, "f", parts, algorithm, "FULL_OBJECT",
                  ChecksumType="FULL_OBJECT", **{f"Checksum{algorithm}": whole})
    assert (done[f"Checksum{algorithm}"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="f", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"] == {f"Checksum{algorithm}": whole, "ChecksumType": "FULL_OBJECT"}


def test_full_object_multipart_with_a_wrong_value_is_bad_digest(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), b"end"]
    with pytest.raises(ClientError) as err:
        upload(s3, bucket, "w", parts, "CRC32", "FULL_OBJECT", ChecksumType="FULL_OBJECT",
               ChecksumCRC32=b64("CRC32", b"not the object"))
    assert code(err) == "BadDigest"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_full_object_upload_completed_without_a_value_gets_the_full_object_crc(
        s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), b"end"]
    done = upload(s3, bucket, "n", parts, "CRC32C", "FULL_OBJECT")
    assert (done["ChecksumCRC32C"], done["ChecksumType"]) == (b64("CRC32C", b"".join(parts)),
                                                              "FULL_OBJECT")


def test_crc64nvme_uploads_are_full_object_by_default(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC64NVME")
    assert created["ChecksumType"] == "FULL_OBJECT"
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=created["UploadId"])


@pytest.mark.parametrize("algorithm,kind", [("CRC64NVME", "COMPOSITE"), ("SHA256", "FULL_OBJECT"),
                                            ("SHA1", "FULL_OBJECT")])
def test_an_algorithm_and_type_s3_does_not_allow_together_is_refused(
        s3: Any, bucket: str, algorithm: str, kind: str) -> None:
    with pytest.raises(ClientError) as err:
        s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm,
                                   ChecksumType=kind)
    assert code(err) == "InvalidRequest"


def test_reuploading_a_part_replaces_its_checksum_and_etag(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="r", ChecksumAlgorithm="CRC32")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="r", UploadId=uid, PartNumber=1, Body=b"first",
                   ChecksumAlgorithm="CRC32")
    second = s3.upload_part(Bucket=bucket, Key="r", UploadId=uid, PartNumber=1, Body=b"second",
                            ChecksumAlgorithm="CRC32")
    listed = s3.list_parts(Bucket=bucket, Key="r", UploadId=uid)
    assert [(p["ETag"], p["ChecksumCRC32"]) for p in listed["Parts"]] == \
        [(second["ETag"], b64("CRC32", b"second"))]
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ("CRC32", "COMPOSITE")
    s3.abort_multipart_upload(Bucket=bucket, Key="r", UploadId=uid)


def test_a_part_sent_without_a_checksum_gets_the_uploads_algorithm(s3_factory: Any, s3_user: Any,
                                                                   bucket: str) -> None:
    plain = s3_factory(s3_user.access_key, s3_user.secret_key,
                       request_checksum_calculation="when_required")
    uid = plain.create_multipart_upload(Bucket=bucket, Key="p", ChecksumAlgorithm="SHA256")["UploadId"]
    plain.upload_part(Bucket=bucket, Key="p", UploadId=uid, PartNumber=1, Body=b"no header")
    listed = plain.list_parts(Bucket=bucket, Key="p", UploadId=uid)
    assert listed["Parts"][0]["ChecksumSHA256"] == b64("SHA256", b"no header")
    plain.abort_multipart_upload(Bucket=bucket, Key="p", UploadId=uid)


def test_a_part_with_another_algorithm_than_the_uploads_is_refused(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m", ChecksumAlgorithm="CRC32")["UploadId"]
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"x",
                       ChecksumAlgorithm="SHA256")
    assert code(err) == "InvalidRequest"
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=uid)


def test_a_completion_naming_a_wrong_part_checksum_is_invalid_part(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="x", ChecksumAlgorithm="CRC32")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="x", UploadId=uid, PartNumber=1, Body=b"only",
                          ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket=bucket, Key="x", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": b64("CRC32", b"no")}]})
    assert code(err) == "InvalidPart"
    s3.abort_multipart_upload(Bucket=bucket, Key="x", UploadId=uid)


def test_a_copied_part_carries_the_uploads_checksum(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="cp", ChecksumAlgorithm="CRC32C",
                                     ChecksumType="FULL_OBJECT")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="cp", UploadId=uid, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "src"})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="cp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}]})
    assert done["ChecksumCRC32C"] == b64("CRC32C", source)


@pytest.mark.parametrize("algorithm,kind", [("SHA256", "COMPOSITE"), ("CRC32", "FULL_OBJECT")])
def test_reading_one_part_answers_that_parts_checksum(s3: Any, bucket: str, algorithm: str,
                                                      kind: str) -> None:
    parts = [os.urandom(5 * MiB), b"second part"]
    upload(s3, bucket, "p", parts, algorithm, kind)
    second = s3.get_object(Bucket=bucket, Key="p", PartNumber=2, ChecksumMode="ENABLED")
    assert second["Body"].read() == parts[1]
    assert (second[f"Checksum{algorithm}"], second["ChecksumType"]) == (b64(algorithm, parts[1]), kind)


def test_object_attributes_list_each_parts_checksum(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), b"tail"]
    upload(s3, bucket, "a", parts, "SHA256")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=["ObjectParts"])
    assert [(p["PartNumber"], p["ChecksumSHA256"]) for p in attrs["ObjectParts"]["Parts"]] == \
        [(1, b64("SHA256", parts[0])), (2, b64("SHA256", parts[1]))]
