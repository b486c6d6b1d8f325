"""One store, two APIs: KOS ↔ S3 visibility and usedCapacity; bucket address policies on S3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from s3_helpers import raw_request


def used(s3_user, bucket) -> int:
    r = s3_user.get(f"/kos/v1/buckets/{bucket}")
    assert r.status_code == 200, r.text
    body = r.json()
    b = body.get("data", body)
    return int(b.get("usedCapacity", b.get("used_capacity")))


def test_kos_upload_visible_on_s3_and_back(s3_user, s3, bucket):
    files = [("file", ("a.txt", b"via kos " * 100, "text/plain"))]
    r = s3_user.put(f"/kos/v1/buckets/{bucket}/objects", data={"prefix": "docs/"}, files=files)
    assert r.status_code == 201, r.text
    assert used(s3_user, bucket) == 800
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("docs/a.txt", 800)]
    assert s3.get_object(Bucket=bucket, Key="docs/a.txt")["Body"].read() == b"via kos " * 100
    s3.put_object(Bucket=bucket, Key="docs/b.bin", Body=b"z" * 5000)
    assert used(s3_user, bucket) == 5800
    r = s3_user.get(f"/kos/v1/buckets/{bucket}/objects", params={"prefix": "docs/"})
    assert r.status_code == 200, r.text
    assert sorted(o["key"] for o in r.json()["objects"]) == ["docs/a.txt", "docs/b.bin"]
    s3.delete_object(Bucket=bucket, Key="docs/a.txt")
    assert used(s3_user, bucket) == 5000
    r = s3_user.post(f"/kos/v1/buckets/{bucket}/objects/delete", json={"objectkey": "docs/b.bin"})
    assert r.status_code in (200, 204), r.text
    assert used(s3_user, bucket) == 0
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_used_capacity_exact_with_overwrite_copy_and_multipart(s3_user, s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"1" * 100)
    s3.put_object(Bucket=bucket, Key="x", Body=b"2" * 40)          # overwrite replaces
    assert used(s3_user, bucket) == 40
    s3.copy_object(Bucket=bucket, Key="y", CopySource=f"{bucket}/x")
    assert used(s3_user, bucket) == 80
    uid = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key="m", UploadId=uid, PartNumber=1, Body=b"p" * 123)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert used(s3_user, bucket) == 203
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}, {"Key": "y"}, {"Key": "m"}]})
    assert used(s3_user, bucket) == 0


def test_bucket_created_on_s3_visible_on_kos(s3_user, s3, bucket):
    r = s3_user.get("/kos/v1/buckets")
    assert r.status_code == 200 and bucket in r.text


def _policy(s3_user, bucket, rw, ro):
    krn = s3_user.get(f"/kos/v1/buckets/{bucket}").json()
    krn = krn.get("data", krn)
    krn = krn.get("krn") or krn.get("krnid") or krn.get("bucketKrn")
    r = s3_user.post(f"/kos/v1/buckets/policy/{krn}",
                     json={"s3_read_write_ips": rw, "s3_read_only_ips": ro})
    assert r.status_code in (200, 201), r.text
    return krn


def test_bucket_policy_enforced_by_client_address(s3_user, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    krn = _policy(s3_user, bucket, ["127.0.0.1"], ["127.0.0.2/32"])

    def call(method, path, addr, body=b""):
        return raw_request(s3, method, path, body=body, local_address=addr)

    # read-write address: reads and writes
    assert call("GET", f"/{bucket}/k", "127.0.0.1").status_code == 200
    assert call("PUT", f"/{bucket}/w1", "127.0.0.1", b"x").status_code == 200
    # read-only address: reads only
    assert call("GET", f"/{bucket}/k", "127.0.0.2").status_code == 200
    assert call("GET", f"/{bucket}?list-type=2", "127.0.0.2").status_code == 200
    r = call("PUT", f"/{bucket}/w2", "127.0.0.2", b"x")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    r = call("DELETE", f"/{bucket}/k", "127.0.0.2")
    assert r.status_code == 403
    # neither: nothing
    for method, path in (("GET", f"/{bucket}/k"), ("HEAD", f"/{bucket}/k"),
                         ("GET", f"/{bucket}"), ("PUT", f"/{bucket}/w3")):
        assert call(method, path, "127.0.0.3").status_code == 403
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="w2")
    r = s3_user.delete(f"/kos/v1/buckets/policy/{krn}")
    assert r.status_code in (200, 204), r.text


def test_bucket_policy_covers_copy_source(s3_user, s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    krn = _policy(s3_user, bucket, ["127.0.0.1"], [])
    r = raw_request(s3, "PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": f"/{bucket}/src"},
                    local_address="127.0.0.4")
    assert r.status_code == 403
    s3_user.delete(f"/kos/v1/buckets/policy/{krn}")
