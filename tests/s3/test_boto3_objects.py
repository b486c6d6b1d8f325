"""Objects through current boto3 (default checksum behaviour: CRC32, aws-chunked trailers)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time

import pytest
from botocore.exceptions import ClientError


def err(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_put_get_head_delete_roundtrip(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello world",
                      ContentType="text/plain", ContentEncoding="identity",
                      ContentDisposition='attachment; filename="x.txt"', ContentLanguage="en",
                      CacheControl="max-age=60", Expires=dt.datetime(2030, 1, 1),
                      Metadata={"Color": "blue", "n": "1"})
    assert r["ETag"] == '"%s"' % hashlib.md5(b"hello world").hexdigest()
    o = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert o["Body"].read() == b"hello world"
    assert o["ContentType"] == "text/plain"
    assert o["ContentEncoding"] == "identity"
    assert o["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert o["ContentLanguage"] == "en"
    assert o["CacheControl"] == "max-age=60"
    assert o["Expires"].year == 2030
    assert o["Metadata"] == {"color": "blue", "n": "1"}
    assert o["ContentLength"] == 11
    assert o["AcceptRanges"] == "bytes"
    h = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert h["ContentLength"] == 11 and h["ETag"] == r["ETag"]
    s3.delete_object(Bucket=bucket, Key="dir/hello.txt")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert err(e)[0] == 404


def test_default_checksum_is_verified_and_returned(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 1000)
    assert "ChecksumCRC32" in r          # boto3 sent a CRC32 trailer; we verified and echo it
    h = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == r["ChecksumCRC32"]
    g = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert g["Body"].read() == b"x" * 1000   # botocore validates the checksum on read


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_each_checksum_algorithm(s3, bucket, alg):
    body = b"checksum me " * 100
    r = s3.put_object(Bucket=bucket, Key=f"c-{alg}", Body=body, ChecksumAlgorithm=alg)
    assert f"Checksum{alg}" in r
    h = s3.head_object(Bucket=bucket, Key=f"c-{alg}", ChecksumMode="ENABLED")
    assert h[f"Checksum{alg}"] == r[f"Checksum{alg}"]


def test_wrong_checksum_header_is_bad_digest_and_nothing_stored(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert err(e) == (400, "BadDigest")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_wrong_content_md5_is_bad_digest(s3, bucket):
    import base64
    md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ContentMD5=md5)
    assert err(e) == (400, "BadDigest")


def test_ranges(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    r = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert r["Body"].read() == body[10:20]
    assert r["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-7")["Body"].read() == body[-7:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-5000")["Body"].read() == body[1000:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert err(e) == (416, "InvalidRange")
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-10")
    assert err(e) == (416, "InvalidRange")


def test_conditional_get_and_head(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert err(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert err(e) == (412, "PreconditionFailed")
    # S3: If-Match true + If-Unmodified-Since false → 200
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"nope"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_conditional_put_and_delete(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="p", Body=b"1")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="p", Body=b"2", IfNoneMatch="*")
    assert err(e)[0] == 412
    s3.put_object(Bucket=bucket, Key="new", Body=b"2", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="p", Body=b"3", IfMatch='"0000"')
    assert err(e)[0] == 412
    s3.put_object(Bucket=bucket, Key="p", Body=b"3", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="p")["Body"].read() == b"3"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="p", IfMatch='"0000"')
    assert err(e)[0] == 412


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    r = s3.get_object(Bucket=bucket, Key="o", ResponseContentType="application/json",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
                      ResponseContentLanguage="fr", ResponseContentEncoding="gzip",
                      ResponseExpires=dt.datetime(2031, 1, 1))
    assert r["ContentType"] == "application/json"
    assert r["ContentDisposition"] == "inline"
    assert r["CacheControl"] == "no-cache"
    assert r["ContentLanguage"] == "fr"
    assert r["ContentEncoding"] == "gzip"


def test_keys_with_special_characters(s3, bucket):
    keys = ["a b", "a+b", "ü/ñ/中文", "x//y", "q?x=1&y", "tilde~", "pct%20", "dot/./..", "semi;colon",
            "trailing/", "#hash", "star*", "@at"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed) == sorted(keys)
    for k in keys:
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()


def test_copy_object_copy_and_replace(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/plain",
                  Metadata={"a": "1"}, Tagging="t=1")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    d = s3.get_object(Bucket=bucket, Key="dst")
    assert d["Body"].read() == b"copy me" and d["Metadata"] == {"a": "1"}
    assert d["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="x/y")
    d2 = s3.head_object(Bucket=bucket, Key="dst2")
    assert d2["Metadata"] == {"b": "2"} and d2["ContentType"] == "x/y"
    # metadata-only change of the object itself
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert err(e) == (400, "InvalidRequest")
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == [{"Key": "t", "Value": "1"}]


def test_copy_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    s3.copy_object(Bucket=bucket, Key="d1", CopySource=f"{bucket}/src", CopySourceIfMatch=etag)
    for kw in ({"CopySourceIfMatch": '"zzz"'}, {"CopySourceIfNoneMatch": etag},
               {"CopySourceIfModifiedSince": dt.datetime.now(dt.timezone.utc)
                + dt.timedelta(days=1)},
               {"CopySourceIfUnmodifiedSince": dt.datetime(2000, 1, 1)}):
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=bucket, Key="d2", CopySource=f"{bucket}/src", **kw)
        assert err(e) == (412, "PreconditionFailed")


def test_copy_missing_source(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="d", CopySource=f"{bucket}/missing")
    assert err(e) == (404, "NoSuchKey")


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted(tags, key=lambda t: t["Key"]) == [{"Key": "a", "Value": "1"},
                                                     {"Key": "b", "Value": "two words"}]
    assert s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert err(e) == (400, "InvalidTag")


def test_delete_objects_batch_and_quiet(s3, bucket):
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"d{i}", Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d0"}, {"Key": "d1"},
                                                             {"Key": "nothere"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d0", "d1", "nothere"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d2"}], "Quiet": True})
    assert "Deleted" not in r
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d3", "d4"]


def test_acl_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", ACL="public-read")
    acl = s3.get_object_acl(Bucket=bucket, Key="a")
    assert acl["Owner"]["ID"] and acl["Owner"]["DisplayName"]
    uris = [g["Grantee"].get("URI") for g in acl["Grants"]]
    assert "http://acs.amazonaws.com/groups/global/AllUsers" in uris
    s3.put_object_acl(Bucket=bucket, Key="a", ACL="private")
    acl = s3.get_object_acl(Bucket=bucket, Key="a")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]


def test_user_metadata_unicode(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"k": "plain"})
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {"k": "plain"}


def test_metadata_too_large(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"big": "v" * 3000})
    assert err(e) == (400, "MetadataTooLarge")


def test_upload_fileobj_and_download(s3, bucket, tmp_path):
    data = io.BytesIO(b"0123456789" * 1024 * 1024)   # 10 MiB: multipart with default config
    s3.upload_fileobj(data, bucket, "ten")
    out = tmp_path / "ten"
    s3.download_file(bucket, "ten", str(out))
    assert out.read_bytes() == data.getvalue()


def test_head_of_missing_key_has_no_body(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("content-length") in (None, "0")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]


def test_key_too_long(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert err(e) == (400, "KeyTooLongError")


def test_last_modified_and_listing_shape(s3, bucket):
    before = time.time()
    s3.put_object(Bucket=bucket, Key="lm", Body=b"x")
    obj = s3.list_objects(Bucket=bucket)["Contents"][0]
    assert abs(obj["LastModified"].timestamp() - before) < 60
    assert obj["Owner"]["ID"] and obj["StorageClass"] == "STANDARD"


def test_put_if_match_on_missing_key_is_no_such_key(s3, bucket):
    # S3's conditional writes: If-Match needs a current object (404 NoSuchKey without one,
    # also when a delete marker hides it); a mismatch on an existing one is 412.
    for value in ('"abc"', "*"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=value)
        assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="absent")
    assert err(e) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=bucket, Key="absent", Body=b"x")["ETag"]
    assert s3.put_object(Bucket=bucket, Key="absent", Body=b"y", IfMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"z", IfMatch=etag)
    assert err(e) == (412, "PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="absent")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch="*")
    assert err(e) == (404, "NoSuchKey")


def test_put_if_none_match_etag(s3, bucket):
    # If-None-Match with ETags: refused (412) only while the current object has one of them.
    etag = s3.put_object(Bucket=bucket, Key="n", Body=b"1")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="n", Body=b"2", IfNoneMatch=etag)
    assert err(e) == (412, "PreconditionFailed")
    s3.put_object(Bucket=bucket, Key="n", Body=b"2", IfNoneMatch='"0123"')
    # the current object is now "2": the old ETag no longer blocks
    s3.put_object(Bucket=bucket, Key="n", Body=b"3", IfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="n")["Body"].read() == b"3"
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"1", IfNoneMatch=etag)


def test_not_modified_carries_etag(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="nm", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nm", IfNoneMatch=etag)
    headers = e.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["etag"] == etag and headers["x-amz-request-id"]
