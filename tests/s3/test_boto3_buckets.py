"""Buckets, bucket subresources, listings and versioning through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from s3_helpers import create_s3_user, make_client, unique_bucket


def err(e):
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def test_create_head_list_delete_bucket(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    r = s3.list_buckets()
    assert name in [b["Name"] for b in r["Buckets"]]
    assert r["Owner"]["ID"] and r["Owner"]["DisplayName"]
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert err(e) == (409, "BucketAlreadyOwnedByYou")
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert err(e) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert err(e) == (404, "NoSuchBucket")


def test_create_bucket_with_location_constraint(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "In-Hyderabad-1"})
    try:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "In-Hyderabad-1"
    finally:
        s3.delete_bucket(Bucket=name)


def test_invalid_bucket_name(s3):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="ab")
    assert err(e) == (400, "InvalidBucketName")


def test_other_tenant_cannot_see_bucket(s3, bucket, server, root):
    """Bucket names are global: another tenant learns that it exists (403), never its content."""
    other = create_s3_user(server, root, "other")
    s3b = make_client(server, other.access_key, other.secret_key)
    with pytest.raises(ClientError) as e:
        s3b.list_objects_v2(Bucket=bucket)
    assert err(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3b.create_bucket(Bucket=bucket)
    assert err(e) == (409, "BucketAlreadyExists")
    assert bucket not in [b["Name"] for b in s3b.list_buckets()["Buckets"]]


def test_bucket_versioning_roundtrip(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    d = s3.delete_object(Bucket=bucket, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert err(e) == (404, "NoSuchKey")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k", VersionId=d["VersionId"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    vs = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in vs["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in vs["DeleteMarkers"]] == [d["VersionId"]]
    assert vs["DeleteMarkers"][0]["IsLatest"] is True
    assert vs["Versions"][0]["Owner"]["ID"]
    # removing the delete marker brings the object back
    s3.delete_object(Bucket=bucket, Key="k", VersionId=d["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    r = s3.put_object(Bucket=bucket, Key="s", Body=b"x")
    # a suspended bucket writes the null version, which S3 does not announce on the PUT
    assert "VersionId" not in r
    vs = s3.list_object_versions(Bucket=bucket, Prefix="s")
    assert [v["VersionId"] for v in vs["Versions"]] == ["null"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Bogus"})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_versions_pagination(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("a", "b"):
        for i in range(3):
            s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    seen = []
    kwargs = {"Bucket": bucket, "MaxKeys": 2}
    while True:
        r = s3.list_object_versions(**kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        kwargs.update(KeyMarker=r["NextKeyMarker"], VersionIdMarker=r["NextVersionIdMarker"])
    assert len(seen) == 6 and len(set(seen)) == 6


def test_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(e) == (404, "NoSuchTagSet")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "env", "Value": "ci"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "env", "Value": "ci"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


def test_bucket_lifecycle(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert err(e) == (404, "NoSuchLifecycleConfiguration")
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 30}},
        {"ID": "old", "Status": "Disabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "m/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    by_id = {r["ID"]: r for r in got}
    assert by_id["logs"]["Expiration"] == {"Days": 30}
    assert by_id["logs"]["Filter"] == {"Prefix": "logs/"}
    assert by_id["old"]["Status"] == "Disabled"
    assert by_id["old"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7,
                                                           "NewerNoncurrentVersions": 2}
    assert by_id["old"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert by_id["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_lifecycle_visible_through_kos(s3, bucket, s3_user):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "r1", "Status": "Enabled", "Filter": {"Prefix": "p/"}, "Expiration": {"Days": 5}}]})
    r = s3_user.get(f"/kos/v1/buckets/{bucket}/lifecycle-rules")
    assert r.status_code == 200, r.text
    text = r.text
    assert "r1" in text and "p/" in text


def test_bucket_cors_config(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert err(e) == (404, "NoSuchCORSConfiguration")
    rules = [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://*.example.com"],
              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"]
    assert got[0]["MaxAgeSeconds"] == 600
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket=bucket)


def test_bucket_acl(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"]["ID"] and acl["Owner"]["DisplayName"]
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ"
               for g in grants)
    # the same document sent back as XML round trips
    doc = s3.get_bucket_acl(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Grants": doc["Grants"],
                                                          "Owner": doc["Owner"]})
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1


def test_anonymous_access_follows_acl(s3, bucket, server):
    import httpx
    s3.put_object(Bucket=bucket, Key="pub", Body=b"public data")
    assert httpx.get(f"{server.s3_url}/{bucket}/pub").status_code == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    r = httpx.get(f"{server.s3_url}/{bucket}/pub")
    assert r.status_code == 200 and r.content == b"public data"
    assert httpx.get(f"{server.s3_url}/{bucket}").status_code == 200   # anonymous list
    assert httpx.put(f"{server.s3_url}/{bucket}/w", content=b"x").status_code == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    r = httpx.get(f"{server.s3_url}/{bucket}/pub")
    assert r.status_code == 403 and b"<Code>AccessDenied</Code>" in r.content


# ------------------------------------------------------------------------------ listings

def _keys(r):
    return [o["Key"] for o in r.get("Contents", [])]


def _prefixes(r):
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


@pytest.fixture
def tree(s3, bucket):
    for k in ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def test_list_v1_delimiter_marker(s3, tree):
    r = s3.list_objects(Bucket=tree, Delimiter="/")
    assert _keys(r) == ["asdf"] and _prefixes(r) == ["boo/", "cquux/"]
    assert r["Delimiter"] == "/"
    r = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=1)
    assert r["IsTruncated"] and r["NextMarker"] == "asdf"
    r = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=1, Marker="asdf")
    assert _prefixes(r) == ["boo/"] and r["NextMarker"] == "boo/"
    r = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=1, Marker="boo/")
    assert _prefixes(r) == ["cquux/"] and not r["IsTruncated"] and "NextMarker" not in r
    r = s3.list_objects(Bucket=tree, Prefix="boo/", Delimiter="/")
    assert _keys(r) == ["boo/bar"] and _prefixes(r) == ["boo/baz/"]
    r = s3.list_objects(Bucket=tree, MaxKeys=0)
    assert not r["IsTruncated"] and _keys(r) == []


def test_list_v2_pagination_and_start_after(s3, tree):
    seen, token = [], None
    while True:
        kw = {"Bucket": tree, "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        seen += _keys(r)
        assert r["KeyCount"] == len(_keys(r)) + len(_prefixes(r))
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        token = r["NextContinuationToken"]
    assert seen == sorted(["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"])
    r = s3.list_objects_v2(Bucket=tree, StartAfter="boo/baz/xyzzy")
    assert _keys(r) == ["cquux/bla", "cquux/thud"] and r["StartAfter"] == "boo/baz/xyzzy"
    assert "Owner" not in r["Contents"][0]
    r = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert r["Contents"][0]["Owner"]["ID"]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=tree, ContinuationToken="!!!not-a-token")
    assert err(e) == (400, "InvalidArgument")


def test_list_encoding_type_url(s3, bucket):
    for k in ["foo+1/bar", "foo/bar/xyzzy", "quux ab/thud", "asdf+b"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    # asked for explicitly, boto3 hands the encoded names through (as s3-tests expects)
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", EncodingType="url")
    assert _keys(r) == ["asdf%2Bb"]
    assert _prefixes(r) == ["foo%2B1/", "foo/", "quux%20ab/"]
    r = s3.list_objects(Bucket=bucket, Delimiter="/", EncodingType="url")
    assert _keys(r) == ["asdf%2Bb"]
    import httpx
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    req = AWSRequest(method="GET", url=f"{s3.meta.endpoint_url}/{bucket}?list-type=2&delimiter=%2F&encoding-type=url")
    S3SigV4Auth(s3._request_signer._credentials, "s3", "In-Bangalore-1").add_auth(req)
    raw = httpx.get(req.url, headers=dict(req.headers)).text
    assert "<Key>asdf%2Bb</Key>" in raw and "<Prefix>quux%20ab/</Prefix>" in raw


def test_list_max_keys_invalid(s3, bucket):
    import httpx
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    req = AWSRequest(method="GET", url=f"{s3.meta.endpoint_url}/{bucket}?max-keys=blah")
    S3SigV4Auth(s3._request_signer._credentials, "s3", "In-Bangalore-1").add_auth(req)
    r = httpx.get(req.url, headers=dict(req.headers))
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text


def test_unsupported_subresource_is_not_implemented(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_website(Bucket=bucket)
    assert err(e) == (501, "NotImplemented")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_logging(Bucket=bucket)
    assert err(e) == (501, "NotImplemented")
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert err(e) == (501, "NotImplemented")
