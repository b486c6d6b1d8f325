"""Bucket policy documents (AWS grammar) over the S3 port and their effect on both APIs, with two
accounts: the bucket's owner (`s3`) and a stranger (`other_s3`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from s3_helpers import create_s3_user, make_client


def err(e: Any) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture(scope="module")
def other_user(server: Any, root: Any) -> Iterator[Any]:
    client = create_s3_user(server, root, "policy-other")
    yield client
    client.close()


@pytest.fixture(scope="module")
def other_s3(server: Any, other_user: Any) -> Any:
    return make_client(server, other_user.access_key, other_user.secret_key)


def put_policy(s3: Any, bucket: str, *statements: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": list(statements)}))


def allow(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **extra}


def deny(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {**allow(principal, action, resource, **extra), "Effect": "Deny"}


def test_put_get_delete_bucket_policy_round_trip(s3: Any, bucket: str) -> None:
    doc = {"Version": "2012-10-17", "Statement": [allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*")]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == doc
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert err(e) == (404, "NoSuchBucketPolicy")


def test_policy_status_without_a_policy_follows_the_acl(s3: Any, bucket: str) -> None:
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


def test_head_of_a_missing_key_the_policy_lets_list_is_404(s3: Any, other_s3: Any,
                                                           bucket: str) -> None:
    put_policy(s3, bucket, allow({"AWS": "*"}, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                 Condition={"StringLike": {"s3:prefix": "public/*"}}))
    with pytest.raises(ClientError) as e:
        other_s3.head_object(Bucket=bucket, Key="public/missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        other_s3.head_object(Bucket=bucket, Key="private/missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_malformed_policy_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [
            allow("*", "s3:GetObject", "arn:aws:s3:::some-other-bucket/*")]}))
    assert err(e) == (400, "MalformedPolicy")


def test_policy_status_of_a_restricted_policy_is_not_public(s3: Any, bucket: str) -> None:
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False


def test_other_account_is_refused_with_403_without_a_policy(s3: Any, other_s3: Any,
                                                           bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="k")
    assert err(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        other_s3.list_objects_v2(Bucket="no-such-bucket-at-all-xyz")
    assert err(e) == (404, "NoSuchBucket")


def test_allow_to_another_account_lets_it_read(s3: Any, other_s3: Any, other_user: Any,
                                                bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared/a", Body=b"a")
    put_policy(s3, bucket, allow({"AWS": other_user.kcid}, "s3:GetObject",
                                 f"arn:aws:s3:::{bucket}/shared/*"))
    assert other_s3.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == b"a"
    with pytest.raises(ClientError) as e:
        other_s3.put_object(Bucket=bucket, Key="shared/b", Body=b"b")
    assert err(e) == (403, "AccessDenied")


def test_allow_by_account_krn_lets_its_users_write(s3: Any, other_s3: Any, other_user: Any,
                                                   bucket: str) -> None:
    put_policy(s3, bucket, allow({"AWS": f"krn:kos::{other_user.account_id}"},
                                 ["s3:PutObject", "s3:ListBucket"],
                                 [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]))
    other_s3.put_object(Bucket=bucket, Key="drop", Body=b"d")
    keys = [o["Key"] for o in other_s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["drop"]


def test_anonymous_read_through_a_public_policy(s3: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="p", Body=b"public")
    assert httpx.get(f"{server.s3_url}/{bucket}/p").status_code == 403
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    r = httpx.get(f"{server.s3_url}/{bucket}/p")
    assert r.status_code == 200 and r.content == b"public"


def test_explicit_deny_beats_the_owners_admin_rights(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="locked/x", Body=b"x")
    put_policy(s3, bucket, deny("*", "s3:DeleteObject", f"arn:aws:s3:::{bucket}/locked/*"))
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="locked/x")
    assert err(e) == (403, "AccessDenied")
    s3.delete_bucket_policy(Bucket=bucket)


def test_deny_beats_allow_for_another_account(s3: Any, other_s3: Any, other_user: Any,
                                              bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
               deny({"AWS": other_user.kcid}, "s3:*", f"arn:aws:s3:::{bucket}/*"))
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="a")
    assert err(e) == (403, "AccessDenied")


def test_source_ip_condition(s3: Any, other_s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    with pytest.raises(ClientError):
        other_s3.get_object(Bucket=bucket, Key="a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert other_s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a"


def test_not_ip_address_deny_blocks_the_owner_but_not_from_the_policy_itself(s3: Any, bucket: str) -> None:
    put_policy(s3, bucket, deny("*", "s3:*", [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                                Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert err(e) == (403, "AccessDenied")
    s3.delete_bucket_policy(Bucket=bucket)   # the account's admins can always recover (as root on AWS)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_prefix_and_max_keys_conditions_on_listing(s3: Any, other_s3: Any, other_user: Any,
                                                   bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="home/x", Body=b"x")
    put_policy(s3, bucket, allow({"AWS": other_user.kcid}, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                 Condition={"StringLike": {"s3:prefix": "home/*"},
                                            "NumericLessThanEquals": {"s3:max-keys": "100"}}))
    assert other_s3.list_objects_v2(Bucket=bucket, Prefix="home/", MaxKeys=10)["KeyCount"] == 1
    for kwargs in ({"Prefix": "etc/", "MaxKeys": 10}, {"Prefix": "home/", "MaxKeys": 500}):
        with pytest.raises(ClientError) as e:
            other_s3.list_objects_v2(Bucket=bucket, **kwargs)
        assert err(e) == (403, "AccessDenied")


def test_canned_acl_condition_on_put(s3: Any, other_s3: Any, other_user: Any, bucket: str) -> None:
    put_policy(s3, bucket, allow({"AWS": other_user.kcid}, "s3:PutObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}))
    other_s3.put_object(Bucket=bucket, Key="ok", Body=b"1", ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as e:
        other_s3.put_object(Bucket=bucket, Key="no", Body=b"1")
    assert err(e) == (403, "AccessDenied")


def test_request_and_existing_object_tag_conditions(s3: Any, other_s3: Any, other_user: Any,
                                                    bucket: str) -> None:
    put_policy(s3, bucket,
               allow({"AWS": other_user.kcid}, "s3:PutObject", f"arn:aws:s3:::{bucket}/*",
                     Condition={"StringEquals": {"s3:RequestObjectTag/team": "blue"}}),
               allow({"AWS": other_user.kcid}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                     Condition={"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}))
    other_s3.put_object(Bucket=bucket, Key="t", Body=b"1", Tagging="team=blue")
    with pytest.raises(ClientError):
        other_s3.put_object(Bucket=bucket, Key="u", Body=b"1", Tagging="team=red")
    s3.put_object(Bucket=bucket, Key="shared", Body=b"s", Tagging="share=yes")
    s3.put_object(Bucket=bucket, Key="kept", Body=b"k", Tagging="share=no")
    assert other_s3.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"s"
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="kept")
    assert err(e) == (403, "AccessDenied")


def test_object_tagging_allowed_to_another_account_by_the_policy(s3: Any, other_s3: Any,
                                                                  other_user: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"t")
    put_policy(s3, bucket, allow({"AWS": other_user.kcid}, "s3:PutObjectTagging",
                                 f"arn:aws:s3:::{bucket}/t"))
    other_s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "a", "Value": "1"}]
    with pytest.raises(ClientError) as e:
        other_s3.get_object(Bucket=bucket, Key="t")
    assert err(e) == (403, "AccessDenied")


def test_secure_transport_and_current_time_conditions(s3: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"Bool": {"aws:SecureTransport": "true"}}))
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 403   # plain HTTP
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}))
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 200
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}))
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 403


def test_user_agent_condition(s3: Any, bucket: str, server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
                                 Condition={"StringLike": {"aws:UserAgent": "trusted-*"}}))
    assert httpx.get(f"{server.s3_url}/{bucket}/a", headers={"user-agent": "trusted-1"}).status_code == 200
    assert httpx.get(f"{server.s3_url}/{bucket}/a", headers={"user-agent": "curl"}).status_code == 403


def test_block_public_policy_refuses_a_public_policy(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})
    with pytest.raises(ClientError) as e:
        put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    assert err(e) == (403, "AccessDenied")


def test_restrict_public_buckets_ignores_a_public_policy_for_strangers(s3: Any, bucket: str,
                                                                       server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    put_policy(s3, bucket, allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 200
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    assert httpx.get(f"{server.s3_url}/{bucket}/a").status_code == 403


def test_rest_api_obeys_a_bucket_policy_deny(s3: Any, bucket: str, s3_user: Any) -> None:
    s3.put_object(Bucket=bucket, Key="secret/x", Body=b"x")
    put_policy(s3, bucket, deny("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/secret/*"))
    r = s3_user.post(f"/kos/v1/buckets/{bucket}/objects/download",
                     headers={"accept": "application/octet-stream"}, json={"objectkey": "secret/x"})
    assert r.status_code == 403


def test_rest_api_lets_another_account_in_through_a_policy_allow(
        s3: Any, bucket: str, other_user: Any) -> None:
    s3.put_object(Bucket=bucket, Key="x", Body=b"shared")
    r = other_user.get(f"/kos/v1/buckets/{bucket}/objects")
    assert r.status_code == 404                          # the KOS API keeps 404 for strangers
    put_policy(s3, bucket, allow({"AWS": other_user.kcid}, ["s3:ListBucket", "s3:GetObject"],
                                 [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]))
    r = other_user.get(f"/kos/v1/buckets/{bucket}/objects")
    assert r.status_code == 200, r.text


def test_aws_cli_put_bucket_policy(s3: Any, bucket: str, server: Any, aws_env: dict[str, str],
                                   tmp_path: Any) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*")]}))
    subprocess.run(["aws", "--endpoint-url", server.s3_url, "s3api", "put-bucket-policy",
                    "--bucket", bucket, "--policy", f"file://{path}"], env=aws_env, check=True,
                   capture_output=True, timeout=60)
    out = subprocess.run(["aws", "--endpoint-url", server.s3_url, "s3api", "get-bucket-policy",
                          "--bucket", bucket], env=aws_env, check=True, capture_output=True,
                         timeout=60).stdout
    assert json.loads(json.loads(out)["Policy"])["Statement"][0]["Action"] == "s3:GetObject"
