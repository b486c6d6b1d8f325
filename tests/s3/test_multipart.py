"""Multipart uploads through boto3."""

from __future__ import annotations

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def err(e):
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def md5_of_md5s(parts: list[bytes]) -> str:
    return hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + \
        f"-{len(parts)}"


def test_multipart_roundtrip(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail" * 1000]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-test",
                                    Metadata={"m": "1"})
    uid = up["UploadId"]
    assert up["Bucket"] == bucket and up["Key"] == "mp"
    etags = []
    for i, p in enumerate(parts, 1):
        etags.append(s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i,
                                    Body=p)["ETag"])
    assert etags[0] == '"%s"' % hashlib.md5(parts[0]).hexdigest()
    lp = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in lp["Parts"]] == [len(p) for p in parts]
    assert lp["Owner"]["ID"] and lp["Initiator"]["ID"]
    lp = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid, MaxParts=2)
    assert lp["IsTruncated"] and lp["NextPartNumberMarker"] == 2
    ups = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mp", uid)]
    r = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
    assert r["ETag"] == '"%s"' % md5_of_md5s(parts)
    o = s3.get_object(Bucket=bucket, Key="mp")
    assert o["Body"].read() == b"".join(parts)
    assert o["ContentType"] == "application/x-test" and o["Metadata"] == {"m": "1"}
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # part-number reads
    p2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert p2["Body"].read() == parts[1] and p2["PartsCount"] == 3
    assert s3.head_object(Bucket=bucket, Key="mp", PartNumber=3)["ContentLength"] == len(parts[2])
    # ranges across part boundaries
    whole = b"".join(parts)
    rng = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")
    assert rng["Body"].read() == whole[5 * MiB - 10:5 * MiB + 10]


def test_part_too_small_and_bad_order(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=b"a")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert err(e) == (400, "EntityTooSmall")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert err(e) == (400, "InvalidPartOrder")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"0123"'}]})
    assert err(e) == (400, "InvalidPart")
    # a single small part is fine (the last part may be small)
    r = s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert r["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"a"


def test_abort_and_no_such_upload(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=uid)
    assert err(e) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId="bogus", PartNumber=1, Body=b"x")
    assert err(e) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=10001, Body=b"x")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_upload_part_copy_with_ranges(s3, bucket):
    src = os.urandom(12 * MiB)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{6 * MiB - 1}")
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes={6 * MiB}-{12 * MiB - 1}")
    r3 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=3,
                             CopySource={"Bucket": bucket, "Key": "src"})
    assert r1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(src[:6 * MiB]).hexdigest()
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
                  {"PartNumber": 3, "ETag": r3["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src + src
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="dst2",
                            UploadId=s3.create_multipart_upload(Bucket=bucket, Key="dst2")["UploadId"],
                            PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"},
                            CopySourceRange=f"bytes=0-{13 * MiB}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 416)


def test_multipart_with_checksum_algorithm(s3, bucket):
    parts = [os.urandom(5 * MiB), b"end"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm="SHA256")["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="ck", UploadId=uid, PartNumber=i, Body=p,
                           ChecksumAlgorithm="SHA256")
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert r["ChecksumSHA256"].endswith("-2")
    assert s3.get_object(Bucket=bucket, Key="ck")["Body"].read() == b"".join(parts)


def test_list_uploads_prefix_delimiter(s3, bucket):
    ids = {k: s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"]
           for k in ["a/1", "a/2", "b/1", "c"]}
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r.get("Uploads", [])] == ["c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/"]
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in r["Uploads"]] == ["a/1", "a/2"]
    for k, uid in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=uid)


def test_a_completion_if_match_with_no_current_object_is_no_such_key(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="c", UploadId=uid, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=uid, IfMatch="*",
                                     MultipartUpload={"Parts": [{"PartNumber": 1,
                                                                 "ETag": part["ETag"]}]})
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert s3.list_parts(Bucket=bucket, Key="c", UploadId=uid)["Parts"][0]["PartNumber"] == 1
