"""KOS REST bucket policies (S3 address allow-lists): CRUD over HTTP and their effect on S3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .kos_helpers import API, create_bucket, expect, put_object


@pytest.fixture
def bucket(account: Any) -> dict[str, Any]:
    return create_bucket(account)


def url(ref: str) -> str:
    return f"{API}/buckets/policy/{ref}"


def test_create_get_modify_delete(account: Any, bucket: dict[str, Any]) -> None:
    name, krn = bucket["bucketName"], bucket["krn"]
    created = expect(account.post(url(krn), json={"s3_read_write_ips": ["10.0.0.1", "192.168.0.0/16"],
                                                  "s3_read_only_ips": ["2001:db8::/32", "::1"]}), 201)
    assert created["bucketKrn"] == krn
    assert created["bucketPolicyKrn"] == f"krn:kos:In-Bangalore-1:{account.account_id}::bucket-policy:{name}"
    assert created["s3_read_write_ips"] == ["10.0.0.1", "192.168.0.0/16"]
    assert created["s3_read_only_ips"] == ["2001:db8::/32", "::1"]
    assert created["created_at"].endswith("Z") and created["updated_at"] == created["created_at"]
    for ref in (name, krn, created["bucketPolicyKrn"]):
        assert expect(account.get(url(ref)), 200) == created
    modified = expect(account.put(url(name), json={"s3_read_only_ips": []}), 200)
    assert (modified["s3_read_write_ips"], modified["s3_read_only_ips"]) == (["10.0.0.1", "192.168.0.0/16"], [])
    assert modified["updated_at"] >= created["updated_at"]
    assert account.delete(url(krn)).status_code == 204
    assert account.get(url(krn)).status_code == 404
    assert account.put(url(krn), json={"s3_read_only_ips": []}).status_code == 404
    assert account.delete(url(krn)).status_code == 404


def test_create_twice_is_409(account: Any, bucket: dict[str, Any]) -> None:
    expect(account.post(url(bucket["krn"]), json={"s3_read_write_ips": ["10.0.0.1"]}), 201)
    assert account.post(url(bucket["krn"]), json={"s3_read_write_ips": ["10.0.0.2"]}).status_code == 409
    assert expect(account.get(url(bucket["krn"])), 200)["s3_read_write_ips"] == ["10.0.0.1"]


@pytest.mark.parametrize("ips", [["10.0.0.300"], ["not-an-ip"], ["10.0.0.0/33"], ["::g"], [""]])
def test_bad_addresses_are_400(account: Any, bucket: dict[str, Any], ips: list[str]) -> None:
    assert account.post(url(bucket["krn"]), json={"s3_read_only_ips": ips}).status_code == 400
    expect(account.post(url(bucket["krn"]), json={"s3_read_only_ips": ["10.0.0.1"]}), 201)
    assert account.put(url(bucket["krn"]), json={"s3_read_write_ips": ips}).status_code == 400


def test_wrong_types_are_422(account: Any, bucket: dict[str, Any]) -> None:
    assert account.post(url(bucket["krn"]), json={"s3_read_only_ips": "10.0.0.1"}).status_code == 422
    assert account.post(url(bucket["krn"]), json={"s3_read_only_ips": [1]}).status_code == 422


def test_unknown_bucket_and_other_accounts_are_404(account: Any, bucket: dict[str, Any], new_account: Any) -> None:
    assert account.get(url("no-such-bucket-abc")).status_code == 404
    assert account.post(url("no-such-bucket-abc"), json={}).status_code == 404
    assert account.get(url(bucket["krn"])).status_code == 404       # no policy yet
    expect(account.post(url(bucket["krn"]), json={"s3_read_write_ips": ["10.0.0.1"]}), 201)
    other = new_account()
    for ref in (bucket["krn"], bucket["bucketName"]):
        assert other.get(url(ref)).status_code == 404
        assert other.post(url(ref), json={}).status_code == 404
        assert other.put(url(ref), json={"s3_read_write_ips": []}).status_code == 404
        assert other.delete(url(ref)).status_code == 404
    assert expect(account.get(url(bucket["krn"])), 200)["s3_read_write_ips"] == ["10.0.0.1"]


def _s3_code(call: Any) -> str | None:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return None


def test_the_policy_governs_s3_reads_and_writes(account: Any, bucket: dict[str, Any], s3_client: Any) -> None:
    name = bucket["bucketName"]
    put_object(account, name, "k", b"data")

    # A client per call: a refused PUT leaves its connection unusable (the body botocore held
    # back behind `Expect: 100-continue` never comes), which is not what this test is about.
    def read() -> Any:
        return s3_client(account.access_key, account.secret_key).get_object(Bucket=name, Key="k")["Body"].read()

    def write() -> Any:
        return s3_client(account.access_key, account.secret_key).put_object(Bucket=name, Key="w", Body=b"x")

    assert (_s3_code(read), _s3_code(write)) == (None, None)
    expect(account.post(url(name), json={"s3_read_write_ips": ["10.9.9.9"], "s3_read_only_ips": []}), 201)
    assert (_s3_code(read), _s3_code(write)) == ("AccessDenied", "AccessDenied")
    expect(account.put(url(name), json={"s3_read_only_ips": ["127.0.0.0/8"]}), 200)
    assert (_s3_code(read), _s3_code(write)) == (None, "AccessDenied")
    expect(account.put(url(name), json={"s3_read_write_ips": ["127.0.0.1"]}), 200)
    assert (_s3_code(read), _s3_code(write)) == (None, None)
    expect(account.put(url(name), json={"s3_read_write_ips": [], "s3_read_only_ips": ["::1"]}), 200)
    assert (_s3_code(read), _s3_code(write)) == ("AccessDenied", "AccessDenied")
    assert account.delete(url(name)).status_code == 204
    assert (_s3_code(read), _s3_code(write)) == (None, None)
    assert account.post(f"{API}/buckets/{name}/objects/metadata", json={"objectkey": "w"}).status_code == 200
