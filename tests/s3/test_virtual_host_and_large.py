"""Virtual-hosted-style addressing, and multipart uploads of several hundred MiB."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from s3_helpers import REGION, create_s3_user, empty_bucket, make_client, unique_bucket

MiB = 1024 * 1024
DOMAIN = "s3.kosha.test"


def test_virtual_hosted_style(start_server):
    srv = start_server("--s3-domain", DOMAIN)
    root = srv.login(srv.root_access_key, srv.root_secret_key)
    user = create_s3_user(srv, root, "vhost")
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and (host == DOMAIN or host.endswith("." + DOMAIN)):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    with mock.patch("socket.getaddrinfo", resolve):
        vs = make_client(srv, user.access_key, user.secret_key,
                         endpoint_url=f"http://{DOMAIN}:{srv.s3_port}",
                         s3={"addressing_style": "virtual"})
        name = unique_bucket("vh")
        vs.create_bucket(Bucket=name)
        r = vs.put_object(Bucket=name, Key="dir/k v.txt", Body=b"virtual")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert vs.get_object(Bucket=name, Key="dir/k v.txt")["Body"].read() == b"virtual"
        assert [o["Key"] for o in vs.list_objects_v2(Bucket=name)["Contents"]] == ["dir/k v.txt"]
        assert name in [b["Name"] for b in vs.list_buckets()["Buckets"]]
        # path style keeps working on the same server
        ps = make_client(srv, user.access_key, user.secret_key)
        assert ps.get_object(Bucket=name, Key="dir/k v.txt")["Body"].read() == b"virtual"
        empty_bucket(vs, name)
    root.close()
    user.close()


def _file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(300):
            f.write(block[i % 251:] + block[:i % 251])
    return path


def test_boto3_multipart_300_mib(s3, bucket, big_file, tmp_path, s3_user):
    from boto3.s3.transfer import TransferConfig
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=16 * MiB,
                         max_concurrency=4)
    s3.upload_file(str(big_file), bucket, "big/300", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/300")
    assert head["ContentLength"] == 300 * MiB
    assert head["ETag"].endswith('-19"')
    out = tmp_path / "back"
    s3.download_file(bucket, "big/300", str(out), Config=cfg)
    assert _file_md5(out) == _file_md5(big_file)
    body = s3_user.get(f"/kos/v1/buckets/{bucket}").json()
    body = body.get("data", body)
    assert int(body.get("usedCapacity", body.get("used_capacity"))) == 300 * MiB


def test_aws_cli_multipart_300_mib(server, aws_env, bucket, s3, big_file, tmp_path):
    aws_bin = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if aws_bin is None:
        pytest.skip("aws CLI not installed")
    Path(aws_env["AWS_CONFIG_FILE"]).write_text(
        f"[default]\nregion = {REGION}\ns3 =\n  addressing_style = path\n"
        "  multipart_chunksize = 32MB\n")

    def aws(*args):
        p = subprocess.run([aws_bin, "--endpoint-url", server.s3_url, *args], env=aws_env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return p
    aws("s3", "cp", str(big_file), f"s3://{bucket}/cli/300")
    assert s3.head_object(Bucket=bucket, Key="cli/300")["ETag"].endswith('-10"')
    aws("s3", "cp", f"s3://{bucket}/cli/300", str(tmp_path / "back"))
    assert _file_md5(tmp_path / "back") == _file_md5(big_file)
