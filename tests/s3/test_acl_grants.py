"""ACL grants to canonical users and groups (headers and AccessControlPolicy documents), each
permission enforced for another account, object ownership controls and the public access block."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from s3_helpers import create_s3_user, make_client

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def err(e: Any) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture(scope="module")
def other_user(server: Any, root: Any) -> Iterator[Any]:
    client = create_s3_user(server, root, "acl-other")
    yield client
    client.close()


@pytest.fixture(scope="module")
def other_s3(server: Any, other_user: Any) -> Any:
    return make_client(server, other_user.access_key, other_user.secret_key)


def grants_of(acl: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for g in acl["Grants"]:
        who = g["Grantee"].get("ID") or g["Grantee"].get("URI")
        out.add((who, g["Permission"]))
    return out


def test_grant_read_header_on_object_lets_that_user_read(s3: Any, other_s3: Any, other_user: Any,
                                                         bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="g", Body=b"granted", GrantRead=f'id="{other_user.kcid}"')
    assert other_s3.get_object(Bucket=bucket, Key="g")["Body"].read() == b"granted"
    with pytest.raises(ClientError) as e:
        other_s3.get_object_acl(Bucket=bucket, Key="g")
    assert err(e) == (403, "AccessDenied")


def test_get_object_acl_reports_header_grants(s3: Any, s3_user: Any, other_user: Any,
                                              bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="g", Body=b"x", GrantRead=f'id="{other_user.kcid}"',
                  GrantFullControl=f'id="{s3_user.kcid}"')
    acl = s3.get_object_acl(Bucket=bucket, Key="g")
    assert grants_of(acl) == {(other_user.kcid, "READ"), (s3_user.kcid, "FULL_CONTROL")}
    assert acl["Owner"]["ID"] == s3_user.kcid == acl["Owner"]["DisplayName"]


def test_owner_id_is_the_same_in_list_buckets_listings_and_acls(s3: Any, s3_user: Any,
                                                                bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x")
    listed = s3.list_buckets()["Owner"]
    in_listing = s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"]
    in_acl = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    assert listed == in_listing == in_acl == {"ID": s3_user.kcid, "DisplayName": s3_user.kcid}


def test_read_acp_and_write_acp_grants_on_an_object(s3: Any, other_s3: Any, other_user: Any,
                                                    bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", GrantReadACP=f'id="{other_user.kcid}"',
                  GrantWriteACP=f'id="{other_user.kcid}"')
    assert other_s3.get_object_acl(Bucket=bucket, Key="a")["Grants"]
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="a")    # READ_ACP is not READ
    assert err(e) == (403, "AccessDenied")
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 403
    other_s3.put_object_acl(Bucket=bucket, Key="a", ACL="public-read")
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 200


def test_bucket_read_grant_lets_another_account_list(s3: Any, other_s3: Any, other_user: Any,
                                                     bucket: str) -> None:
    with pytest.raises(ClientError):
        other_s3.list_objects_v2(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{other_user.kcid}"')
    assert other_s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        other_s3.put_object(Bucket=bucket, Key="w", Body=b"w")
    assert err(e) == (403, "AccessDenied")


def test_bucket_write_grant_lets_another_account_write_and_delete(s3: Any, other_s3: Any,
                                                                  other_user: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other_user.kcid}"')
    other_s3.put_object(Bucket=bucket, Key="w", Body=b"w")
    other_s3.delete_object(Bucket=bucket, Key="w")
    with pytest.raises(ClientError):
        other_s3.list_objects_v2(Bucket=bucket)


def test_bucket_acp_grants(s3: Any, other_s3: Any, other_user: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, GrantReadACP=f'id="{other_user.kcid}"')
    assert (other_user.kcid, "READ_ACP") in grants_of(other_s3.get_bucket_acl(Bucket=bucket))
    with pytest.raises(ClientError) as e:
        other_s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert err(e) == (403, "AccessDenied")
    s3.put_bucket_acl(Bucket=bucket, GrantWriteACP=f'id="{other_user.kcid}"')
    other_s3.put_bucket_acl(Bucket=bucket, ACL="private")


def test_full_control_grant_implies_every_permission(s3: Any, other_s3: Any, other_user: Any,
                                                     bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{other_user.kcid}"')
    other_s3.put_object(Bucket=bucket, Key="f", Body=b"f")
    assert other_s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert other_s3.get_bucket_acl(Bucket=bucket)["Grants"]


def test_access_control_policy_document_with_user_and_group_grants(
        s3: Any, s3_user: Any, other_s3: Any, other_user: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="d", Body=b"doc")
    owner = {"ID": s3_user.kcid}
    s3.put_object_acl(Bucket=bucket, Key="d", AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": s3_user.kcid}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": other_user.kcid}, "Permission": "READ_ACP"},
        {"Grantee": {"Type": "Group", "URI": AUTH_USERS}, "Permission": "READ"}]})
    assert grants_of(s3.get_object_acl(Bucket=bucket, Key="d")) == {
        (s3_user.kcid, "FULL_CONTROL"), (other_user.kcid, "READ_ACP"), (AUTH_USERS, "READ")}
    assert other_s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"doc"  # authenticated
    assert httpx.get(f"{server.s3_url}/{bucket}/d").status_code == 403          # not anonymous


def test_grant_to_an_unknown_user_is_invalid(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, GrantRead='id="nobody-like-this"')
    assert err(e) == (400, "InvalidArgument")


def test_canned_acl_and_grant_headers_together_are_refused(s3: Any, other_user: Any,
                                                           bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x", ACL="private",
                      GrantRead=f'id="{other_user.kcid}"')
    assert err(e)[0] == 400


def test_public_read_bucket_acl_is_kos_anonymous_access(s3: Any, s3_user: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert s3_user.get(f"/kos/v1/buckets/{bucket}").json().get("anonymous_access") is True
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert s3_user.get(f"/kos/v1/buckets/{bucket}").json().get("anonymous_access") is False


def test_copy_and_multipart_create_take_grant_headers(s3: Any, other_s3: Any, other_user: Any,
                                                      bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"c")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   GrantRead=f'id="{other_user.kcid}"')
    assert other_s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"c"
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", GrantRead=f'id="{other_user.kcid}"')
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert other_s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"m"


# -- ownership controls ------------------------------------------------------------------------

def set_ownership(s3: Any, bucket: str, value: str) -> None:
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": value}]})


def test_ownership_controls_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert err(e) == (404, "OwnershipControlsNotFoundError")
    set_ownership(s3, bucket, "BucketOwnerPreferred")
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)


def test_create_bucket_with_object_ownership(s3: Any) -> None:
    from s3_helpers import empty_bucket, unique_bucket
    name = unique_bucket()
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    finally:
        empty_bucket(s3, name)


def test_enforcing_ownership_on_a_bucket_with_a_public_acl_is_refused(s3: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with pytest.raises(ClientError) as e:
        set_ownership(s3, bucket, "BucketOwnerEnforced")
    assert err(e) == (400, "InvalidBucketAclWithObjectOwnership")


def test_bucket_owner_enforced_refuses_acls(s3: Any, bucket: str) -> None:
    set_ownership(s3, bucket, "BucketOwnerEnforced")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x", ACL="public-read")
    assert err(e) == (400, "AccessControlListNotSupported")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert err(e) == (400, "AccessControlListNotSupported")
    s3.put_object(Bucket=bucket, Key="y", Body=b"y", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as e:      # on objects, only bucket-owner-full-control
        s3.put_object(Bucket=bucket, Key="z", Body=b"z", ACL="private")
    assert err(e) == (400, "AccessControlListNotSupported")


def test_bucket_owner_enforced_makes_the_bucket_owner_own_objects(
        s3: Any, s3_user: Any, other_s3: Any, other_user: Any, bucket: str) -> None:
    set_ownership(s3, bucket, "BucketOwnerEnforced")
    with pytest.raises(ClientError) as e:       # ACLs are disabled: only a policy lets others in
        s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other_user.kcid}"')
    assert err(e) == (400, "AccessControlListNotSupported")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": other_user.kcid}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    other_s3.put_object(Bucket=bucket, Key="theirs", Body=b"t")
    assert s3.get_object_acl(Bucket=bucket, Key="theirs")["Owner"]["ID"] == s3_user.kcid


def test_bucket_owner_preferred_takes_ownership_with_bucket_owner_full_control(
        s3: Any, s3_user: Any, other_s3: Any, other_user: Any, bucket: str) -> None:
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other_user.kcid}"')
    set_ownership(s3, bucket, "BucketOwnerPreferred")
    other_s3.put_object(Bucket=bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    other_s3.put_object(Bucket=bucket, Key="kept", Body=b"k")
    assert s3.get_object_acl(Bucket=bucket, Key="given")["Owner"]["ID"] == s3_user.kcid
    assert s3.get_object_acl(Bucket=bucket, Key="kept")["Owner"]["ID"] == other_user.kcid


# -- the public access block -------------------------------------------------------------------

def set_pab(s3: Any, bucket: str, **flags: bool) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)


def test_public_access_block_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)
    assert err(e) == (404, "NoSuchPublicAccessBlockConfiguration")
    set_pab(s3, bucket, BlockPublicAcls=True, IgnorePublicAcls=False)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                   "RestrictPublicBuckets": False}
    s3.delete_public_access_block(Bucket=bucket)


def test_block_public_acls_refuses_public_acls(s3: Any, s3_user: Any, bucket: str) -> None:
    set_pab(s3, bucket, BlockPublicAcls=True)
    for call in (lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: s3.put_object(Bucket=bucket, Key="p", Body=b"p", ACL="public-read")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == (403, "AccessDenied")
    r = s3_user.put(f"/kos/v1/buckets/{bucket}", json={"anonymous_access": True})
    assert r.status_code == 403


def test_ignore_public_acls_hides_public_objects(s3: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="p", Body=b"p", ACL="public-read")
    assert httpx.get(f"{server.s3_url}/{bucket}/p").status_code == 200
    set_pab(s3, bucket, IgnorePublicAcls=True)
    assert httpx.get(f"{server.s3_url}/{bucket}/p").status_code == 403
