"""S3 behaviours found wrong by Ceph's s3-tests suite (docs/s3-compatibility.md), kept fixed here.

ACLs across accounts and for anonymous clients, retried multipart completes, version ids of
unversioned writes, GetObjectAttributes, and a few echo/format details.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from s3_helpers import create_s3_user, empty_bucket, make_client, unique_bucket


def err(e: Any) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture(scope="module")
def other_user(server: Any, root: Any) -> Iterator[Any]:
    """An admin user of a second account."""
    client = create_s3_user(server, root, "s3-other")
    yield client
    client.close()


@pytest.fixture(scope="module")
def other_s3(server: Any, other_user: Any) -> Any:
    return make_client(server, other_user.access_key, other_user.secret_key)


@pytest.fixture
def public_rw_bucket(s3: Any) -> Iterator[str]:
    name = unique_bucket()
    s3.create_bucket(Bucket=name, ACL="public-read-write")
    yield name
    empty_bucket(s3, name)


# ------------------------------------------------------------------------------ ACLs

def test_object_acl_public_read_in_private_bucket_is_readable_by_anyone(
        s3: Any, other_s3: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="pub", Body=b"shared", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="priv", Body=b"secret")
    r = httpx.get(f"{server.s3_url}/{bucket}/pub")
    assert r.status_code == 200 and r.content == b"shared"
    assert other_s3.get_object(Bucket=bucket, Key="pub")["Body"].read() == b"shared"
    # the rest of the private bucket stays closed: 403 for anonymous callers and other tenants
    assert httpx.get(f"{server.s3_url}/{bucket}/priv").status_code == 403
    assert httpx.get(f"{server.s3_url}/{bucket}/missing").status_code == 403
    assert httpx.get(f"{server.s3_url}/{bucket}").status_code == 403
    for call in (lambda: other_s3.get_object(Bucket=bucket, Key="priv"),
                 lambda: other_s3.list_objects(Bucket=bucket),
                 lambda: other_s3.put_object(Bucket=bucket, Key="pub", Body=b"x")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == (403, "AccessDenied")


def test_object_acl_private_in_public_bucket_is_not_readable(
        s3: Any, other_s3: Any, bucket: str, server: Any) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_object(Bucket=bucket, Key="own-acl", Body=b"x", ACL="private")
    s3.put_object(Bucket=bucket, Key="no-acl", Body=b"y")
    r = httpx.get(f"{server.s3_url}/{bucket}/own-acl")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="own-acl")
    assert err(e) == (403, "AccessDenied")
    # objects without an ACL of their own follow the bucket's (Kosha's anonymous_access)
    assert httpx.get(f"{server.s3_url}/{bucket}/no-acl").content == b"y"
    assert other_s3.get_object(Bucket=bucket, Key="no-acl")["Body"].read() == b"y"
    # a shared bucket: listing works for anyone, writes are 403, missing keys 404
    keys = [o["Key"] for o in other_s3.list_objects(Bucket=bucket)["Contents"]]
    assert keys == ["no-acl", "own-acl"]
    with pytest.raises(ClientError) as e:
        other_s3.put_object(Bucket=bucket, Key="new", Body=b"z")
    assert err(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="missing")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        other_s3.get_object_acl(Bucket=bucket, Key="no-acl")
    assert err(e) == (403, "AccessDenied")


def test_authenticated_read_bucket_is_shared_with_users_not_anonymous(
        s3: Any, other_s3: Any, bucket: str, server: Any) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert other_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert httpx.get(f"{server.s3_url}/{bucket}/k").status_code == 403


def test_public_read_write_bucket_accepts_anonymous_and_other_account_writes(
        s3: Any, other_s3: Any, other_user: Any, public_rw_bucket: str, server: Any) -> None:
    b = public_rw_bucket
    r = httpx.put(f"{server.s3_url}/{b}/anon", content=b"from anonymous")
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=b, Key="anon")["Body"].read() == b"from anonymous"
    # another account's user writes, owns the object, and may read and change its ACL
    other_s3.put_object(Bucket=b, Key="theirs", Body=b"t", ACL="bucket-owner-read")
    grants = other_s3.get_object_acl(Bucket=b, Key="theirs")["Grants"]
    owner_id = s3.get_bucket_acl(Bucket=b)["Owner"]["ID"]
    assert {(g["Grantee"]["ID"], g["Permission"]) for g in grants} == {
        (other_user.kcid, "FULL_CONTROL"), (owner_id, "READ")}
    other_s3.put_object_acl(Bucket=b, Key="theirs", ACL="private")
    # ... but not the ACL of the bucket owner's objects
    s3.put_object(Bucket=b, Key="mine", Body=b"m")
    with pytest.raises(ClientError) as e:
        other_s3.put_object_acl(Bucket=b, Key="mine", ACL="public-read")
    assert err(e) == (403, "AccessDenied")
    # multipart uploads by others: initiator is the uploader
    upload = other_s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket=b)["Uploads"]
    assert [(u["Key"], u["Initiator"]["ID"]) for u in uploads] == [("mp", other_user.kcid)]
    other_s3.abort_multipart_upload(Bucket=b, Key="mp", UploadId=upload)
    # anonymous POST (browser form without a policy) to a public-read-write bucket
    r = httpx.post(f"{server.s3_url}/{b}", data={"key": "posted"},
                   files={"file": ("f.txt", b"posted data")})
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=b, Key="posted")["Body"].read() == b"posted data"


def test_copy_of_public_read_object_by_other_account(s3: Any, other_s3: Any,
                                                     bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"c", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="hidden", Body=b"h")
    dst = unique_bucket()
    other_s3.create_bucket(Bucket=dst)
    try:
        other_s3.copy_object(Bucket=dst, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
        assert other_s3.get_object(Bucket=dst, Key="copy")["Body"].read() == b"c"
        with pytest.raises(ClientError) as e:
            other_s3.copy_object(Bucket=dst, Key="copy2",
                                 CopySource={"Bucket": bucket, "Key": "hidden"})
        assert err(e)[0] == 403
    finally:
        empty_bucket(other_s3, dst)


def test_acl_grant_to_unknown_user_or_email_is_refused(s3: Any, bucket: str) -> None:
    doc = s3.get_bucket_acl(Bucket=bucket)
    owner = doc["Owner"]
    for grantee, code in (({"ID": "_no_such_user", "Type": "CanonicalUser"}, "InvalidArgument"),
                          ({"EmailAddress": "nobody@example.invalid",
                            "Type": "AmazonCustomerByEmail"},
                           "UnresolvableGrantByEmailAddress")):
        grants = doc["Grants"] + [{"Grantee": grantee, "Permission": "FULL_CONTROL"}]
        with pytest.raises(ClientError) as e:
            s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Grants": grants,
                                                                  "Owner": owner})
        assert err(e) == (400, code)


# ------------------------------------------------------------------------------ multipart

def test_complete_multipart_upload_retried_after_completion_succeeds(s3: Any,
                                                                     bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                          Body=b"x")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                         MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                         MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    expected = hashlib.md5(bytes.fromhex(etag.strip('"'))).hexdigest() + "-1"
    assert first["ETag"] == f'"{expected}"'
    # other parts than the ones that made the object: the upload is gone
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                     MultipartUpload={"Parts": [{"ETag": '"' + "0" * 32 + '"',
                                                                 "PartNumber": 1}]})
    assert err(e) == (404, "NoSuchUpload")


def test_unversioned_and_suspended_writes_have_no_version_id(s3: Any, bucket: str) -> None:
    def writes() -> list[dict[str, Any]]:
        upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                              Body=b"x")["ETag"]
        return [s3.put_object(Bucket=bucket, Key="p", Body=b"1"),
                s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "p"}),
                s3.complete_multipart_upload(
                    Bucket=bucket, Key="mp", UploadId=upload,
                    MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})]

    assert all("VersionId" not in r for r in writes())
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert all(r.get("VersionId") not in (None, "null") for r in writes())
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert all("VersionId" not in r for r in writes())


# ------------------------------------------------------------------------------ GetObjectAttributes

ATTRS = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_get_object_attributes(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="o", Body=b"foo", ChecksumAlgorithm="SHA256")
    r = s3.get_object_attributes(Bucket=bucket, Key="o", ObjectAttributes=ATTRS)
    assert r["ETag"] == put["ETag"].strip('"')
    assert (r["ObjectSize"], r["StorageClass"]) == (3, "STANDARD")
    assert r["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert "ObjectParts" not in r and "VersionId" not in r
    r = s3.get_object_attributes(Bucket=bucket, Key="o", ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == 3 and "ETag" not in r
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=ATTRS)
    assert err(e) == (404, "NoSuchKey")


def test_get_object_attributes_pages_multipart_parts(s3: Any, bucket: str) -> None:
    part = 5 * 1024 * 1024
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = []
    for n, size in enumerate((part, part, part, 10), start=1):
        etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                              Body=b"a" * size)["ETag"]
        parts.append({"ETag": etag, "PartNumber": n})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ATTRS,
                                 MaxParts=2, PartNumberMarker=1)
    assert r["ETag"] == done["ETag"].strip('"') and r["ObjectSize"] == 3 * part + 10
    op = r["ObjectParts"]
    assert (op["TotalPartsCount"], op["PartNumberMarker"], op["MaxParts"]) == (4, 1, 2)
    assert op["IsTruncated"] is True and op["NextPartNumberMarker"] == 3
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(2, part), (3, part)]
    op = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                  PartNumberMarker=3)["ObjectParts"]
    assert op["IsTruncated"] is False and [p["PartNumber"] for p in op["Parts"]] == [4]


def test_get_object_attributes_of_a_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"three")
    r = s3.get_object_attributes(Bucket=bucket, Key="v", VersionId=v1,
                                 ObjectAttributes=["ObjectSize"])
    assert (r["VersionId"], r["ObjectSize"]) == (v1, 3)


# ------------------------------------------------------------------------------ details

def test_content_encoding_kept_as_sent_without_aws_chunked(s3: Any, bucket: str) -> None:
    for sent, kept in (("deflate, gzip", "deflate, gzip"), ("gzip, aws-chunked", "gzip"),
                       ("aws-chunked, br, gzip", "br, gzip"), ("aws-chunked", None)):
        s3.put_object(Bucket=bucket, Key="e", Body=b"x", ContentEncoding=sent)
        assert s3.head_object(Bucket=bucket, Key="e").get("ContentEncoding") == kept


def test_list_objects_v1_echoes_prefix_unencoded(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a b/c", Body=b"x")
    # botocore asks for encoding-type=url and decodes keys, Marker, Delimiter: not Prefix
    r = s3.list_objects(Bucket=bucket, Prefix="\n")
    assert r["Prefix"] == "\n" and "Contents" not in r
    r = s3.list_objects(Bucket=bucket, Prefix="a b/")
    assert r["Prefix"] == "a b/" and [o["Key"] for o in r["Contents"]] == ["a b/c"]


def test_tagging_header_tags_come_back_in_key_order(s3: Any, bucket: str) -> None:
    def add_header(params: Any, **_: Any) -> None:
        params["headers"]["x-amz-tagging"] = "foo=bar&bar"
    s3.meta.events.register("before-call.s3.PutObject", add_header)
    try:
        s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", add_header)
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "bar", "Value": ""}, {"Key": "foo", "Value": "bar"}]


def test_lifecycle_invalid_date_is_400_and_a_valid_one_is_kept(s3: Any, bucket: str) -> None:
    def put(rule: dict[str, Any]) -> Any:
        rule = {"ID": "r", "Prefix": "p/", "Status": "Enabled", **rule}
        return s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    for rule in ({"Expiration": {"Date": "2020-01-01T12:00:00Z"}},
                 {"Expiration": {"Days": 3},
                  "Transitions": [{"Date": "20220927", "StorageClass": "GLACIER"}]}):
        with pytest.raises(ClientError) as e:
            put(rule)
        assert err(e) == (400, "InvalidArgument")
    put({"Expiration": {"Date": "2030-01-01T00:00:00Z"}})
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["Expiration"]["Date"].isoformat() == "2030-01-01T00:00:00+00:00"


def test_post_object_refuses_unknown_canned_acl(s3: Any, public_rw_bucket: str,
                                                server: Any) -> None:
    r = httpx.post(f"{server.s3_url}/{public_rw_bucket}",
                   data={"key": "k", "acl": "everyone-may-" + uuid.uuid4().hex[:4]},
                   files={"file": ("f", b"x")})
    assert r.status_code == 400 and b"InvalidArgument" in r.content
