"""Helpers shared by the S3 tests (importable as `s3_helpers`)."""

from __future__ import annotations

import uuid
from typing import Any

REGION = "In-Bangalore-1"


def create_s3_user(server: Any, root: Any, name: str) -> Any:
    """A new account with an admin user (through the operator's internal API), logged in."""
    r = root.post("/internal/kos/v1/accounts", json={"name": f"{name}-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    account_id = r.json()["account_id"]
    r = root.post(f"/internal/kos/v1/accounts/{account_id}/users",
                  json={"name": f"{name}-admin", "admin": True})
    assert r.status_code == 201, r.text
    body = r.json()
    return server.login(body["access_key"], body["secret_key"], account_id=account_id,
                        kcid=body["kcid"], krn=body["krn"], name=body["name"], admin=True)


def unique_bucket(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def empty_bucket(client: Any, name: str) -> None:
    """Delete every version, delete marker and upload of a bucket, then the bucket."""
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if items:
                client.delete_objects(Bucket=name, Delete={"Objects": items, "Quiet": True})
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for u in page.get("Uploads", []):
                client.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
        client.delete_bucket(Bucket=name)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def make_client(server: Any, access_key: str, secret_key: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config
    s3_cfg = config.pop("s3", {"addressing_style": "path"})
    return boto3.client(
        "s3", endpoint_url=config.pop("endpoint_url", server.s3_url), region_name=REGION,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        config=Config(s3=s3_cfg, signature_version="s3v4", retries={"max_attempts": 1},
                      **config))




def raw_request(client: Any, method: str, path: str, *, body: bytes = b"",
                headers: dict[str, str] | None = None, local_address: str | None = None,
                secret: str | None = None, region: str = REGION, sign: bool = True) -> Any:
    """Send one request signed by botocore's S3 SigV4 signer through httpx.

    `client` is a boto3 S3 client (endpoint and credentials come from it); `path` includes the
    query string. `local_address` binds the client socket (e.g. 127.0.0.2) for address policies.
    """
    import httpx
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = client.meta.endpoint_url.rstrip("/") + path
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    if sign:
        creds = client._request_signer._credentials
        if secret is not None:
            creds = Credentials(creds.access_key, secret)
        S3SigV4Auth(creds, "s3", region).add_auth(req)
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    with httpx.Client(transport=transport, timeout=60) as http:
        return http.request(method, req.url, headers=dict(req.headers), content=body or None)
