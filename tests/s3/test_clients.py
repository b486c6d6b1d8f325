"""Real S3 tools against the running server: aws CLI, minio-py, rclone, s3cmd."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from s3_helpers import REGION

MiB = 1024 * 1024


def run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, **kw)
    assert p.returncode == 0, f"{cmd}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": os.urandom(100_000),
        "sub/deeper/c.txt": b"charlie " * 100,
        "big.bin": os.urandom(12 * MiB),          # multipart for every tool configured below
        "space name.txt": b"spaces",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


# ------------------------------------------------------------------------------ aws CLI

@pytest.fixture
def aws(server, aws_env, tmp_path):
    cfg = Path(aws_env["AWS_CONFIG_FILE"])
    cfg.write_text(f"[default]\nregion = {REGION}\ns3 =\n  addressing_style = path\n"
                   "  multipart_threshold = 8MB\n  multipart_chunksize = 5MB\n")
    aws_bin = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if aws_bin is None:
        pytest.skip("aws CLI not installed")

    def call(*args: str) -> subprocess.CompletedProcess:
        return run([aws_bin, "--endpoint-url", server.s3_url, *args], aws_env)
    return call


def test_aws_cli_cp_sync_ls_rm(aws, bucket, s3, tmp_path):
    src = tmp_path / "src"
    files = make_tree(src)
    aws("s3", "cp", str(src / "a.txt"), f"s3://{bucket}/single/a.txt")
    assert s3.get_object(Bucket=bucket, Key="single/a.txt")["Body"].read() == files["a.txt"]
    aws("s3", "sync", str(src), f"s3://{bucket}/tree")
    listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="tree/")["Contents"]}
    assert listed == {f"tree/{k}": len(v) for k, v in files.items()}
    assert s3.head_object(Bucket=bucket, Key="tree/big.bin")["ETag"].endswith('-3"')
    out = aws("s3", "ls", f"s3://{bucket}/tree/").stdout
    assert "PRE sub/" in out and "a.txt" in out and "space name.txt" in out
    out = aws("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    assert "tree/sub/deeper/c.txt" in out
    # a second sync transfers nothing
    assert aws("s3", "sync", str(src), f"s3://{bucket}/tree").stdout.strip() == ""
    dst = tmp_path / "dst"
    aws("s3", "sync", f"s3://{bucket}/tree", str(dst))
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data
    aws("s3", "cp", f"s3://{bucket}/tree/big.bin", str(tmp_path / "big.copy"))
    assert (tmp_path / "big.copy").read_bytes() == files["big.bin"]
    aws("s3", "cp", f"s3://{bucket}/tree/a.txt", f"s3://{bucket}/copied/a.txt")
    aws("s3", "mv", f"s3://{bucket}/copied/a.txt", f"s3://{bucket}/moved/a.txt")
    aws("s3", "rm", "--recursive", f"s3://{bucket}/tree")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["moved/a.txt", "single/a.txt"]


def test_aws_cli_s3api(aws, s3, tmp_path):
    from s3_helpers import empty_bucket, unique_bucket
    name = unique_bucket("cli")
    aws("s3", "mb", f"s3://{name}")
    try:
        aws("s3api", "put-bucket-versioning", "--bucket", name,
            "--versioning-configuration", "Status=Enabled")
        assert '"Enabled"' in aws("s3api", "get-bucket-versioning", "--bucket", name).stdout
        f = tmp_path / "obj"
        f.write_bytes(b"api")
        out = aws("s3api", "put-object", "--bucket", name, "--key", "k", "--body", str(f),
                  "--metadata", "a=b", "--tagging", "t=v").stdout
        assert "VersionId" in out
        out = aws("s3api", "head-object", "--bucket", name, "--key", "k").stdout
        assert '"a": "b"' in out
        out = aws("s3api", "list-object-versions", "--bucket", name).stdout
        assert '"IsLatest": true' in out
        out = aws("s3api", "get-object-tagging", "--bucket", name, "--key", "k").stdout
        assert '"Key": "t"' in out
        aws("s3api", "put-bucket-tagging", "--bucket", name, "--tagging",
            "TagSet=[{Key=env,Value=ci}]")
        assert "env" in aws("s3api", "get-bucket-tagging", "--bucket", name).stdout
        out = aws("s3api", "get-bucket-acl", "--bucket", name).stdout
        assert "FULL_CONTROL" in out and "DisplayName" in out
        out = aws("s3api", "get-bucket-location", "--bucket", name).stdout
        assert "In-Bangalore-1" in out
        aws("s3api", "delete-object", "--bucket", name, "--key", "k")
        out = aws("s3api", "list-object-versions", "--bucket", name).stdout
        assert "DeleteMarkers" in out
    finally:
        empty_bucket(s3, name)


# ------------------------------------------------------------------------------ minio-py

def test_minio_py(server, s3_user, s3, tmp_path):
    from minio import Minio
    from minio.commonconfig import Tags
    from s3_helpers import empty_bucket, unique_bucket
    client = Minio(urlsplit(server.s3_url).netloc, access_key=s3_user.access_key,
                   secret_key=s3_user.secret_key, secure=False)
    name = unique_bucket("minio")
    client.make_bucket(name)
    try:
        assert client.bucket_exists(name)
        client.put_object(name, "hello.txt", io.BytesIO(b"hi minio"), 8, content_type="text/plain",
                          metadata={"x-amz-meta-k": "v"})
        r = client.get_object(name, "hello.txt")
        assert r.read() == b"hi minio"
        r.close()
        r.release_conn()
        st = client.stat_object(name, "hello.txt")
        assert st.size == 8 and st.content_type == "text/plain"
        big = tmp_path / "big"
        data = os.urandom(11 * MiB)
        big.write_bytes(data)
        client.fput_object(name, "dir/big", str(big), part_size=5 * MiB)
        assert client.stat_object(name, "dir/big").etag.endswith("-3")
        client.fget_object(name, "dir/big", str(tmp_path / "big.out"))
        assert (tmp_path / "big.out").read_bytes() == data
        # unknown length: minio streams multipart
        client.put_object(name, "stream", io.BytesIO(data), -1, part_size=5 * MiB)
        assert hashlib.md5(client.get_object(name, "stream").read()).digest() == \
            hashlib.md5(data).digest()
        names = sorted(o.object_name for o in client.list_objects(name, recursive=True))
        assert names == ["dir/big", "hello.txt", "stream"]
        top = sorted(o.object_name for o in client.list_objects(name))
        assert top == ["dir/", "hello.txt", "stream"]
        tags = Tags.new_object_tags()
        tags["a"] = "1"
        client.set_object_tags(name, "hello.txt", tags)
        assert dict(client.get_object_tags(name, "hello.txt")) == {"a": "1"}
        url = client.presigned_get_object(name, "hello.txt")
        import httpx
        assert httpx.get(url).content == b"hi minio"
        from minio.commonconfig import CopySource
        client.copy_object(name, "copy.txt", CopySource(name, "hello.txt"))
        assert client.get_object(name, "copy.txt").read() == b"hi minio"
        from minio.deleteobjects import DeleteObject
        errors = list(client.remove_objects(name, [DeleteObject("copy.txt"),
                                                   DeleteObject("stream")]))
        assert errors == []
        client.remove_object(name, "hello.txt")
    finally:
        empty_bucket(s3, name)


# ------------------------------------------------------------------------------ rclone

@pytest.fixture
def rclone(server, s3_user, tmp_path):
    exe = shutil.which("rclone")
    if exe is None:
        pytest.skip("rclone not installed")
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}  # breaks rclone's SDK
    env = {**env, "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
           "RCLONE_CONFIG_KOSHA_TYPE": "s3", "RCLONE_CONFIG_KOSHA_PROVIDER": "Other",
           "RCLONE_CONFIG_KOSHA_ACCESS_KEY_ID": s3_user.access_key,
           "RCLONE_CONFIG_KOSHA_SECRET_ACCESS_KEY": s3_user.secret_key,
           "RCLONE_CONFIG_KOSHA_ENDPOINT": server.s3_url,
           "RCLONE_CONFIG_KOSHA_REGION": REGION,
           "RCLONE_CONFIG_KOSHA_FORCE_PATH_STYLE": "true"}

    def call(*args: str) -> subprocess.CompletedProcess:
        return run([exe, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
                    "--low-level-retries", "1", "--retries", "1", *args], env)
    return call


def test_rclone(rclone, s3, tmp_path):
    from s3_helpers import empty_bucket, unique_bucket
    name = unique_bucket("rclone")
    rclone("mkdir", f"kosha:{name}")
    try:
        src = tmp_path / "src"
        files = make_tree(src)
        rclone("copy", str(src), f"kosha:{name}/tree")
        rclone("check", str(src), f"kosha:{name}/tree")
        listed = rclone("lsf", "-R", f"kosha:{name}/tree").stdout.split("\n")
        for rel in files:
            assert rel in listed
        assert rclone("cat", f"kosha:{name}/tree/a.txt").stdout == files["a.txt"].decode()
        (src / "a.txt").write_bytes(b"changed\n")
        (src / "sub" / "b.bin").unlink()
        rclone("sync", str(src), f"kosha:{name}/tree")
        rclone("check", str(src), f"kosha:{name}/tree")
        dst = tmp_path / "dst"
        rclone("copy", f"kosha:{name}/tree", str(dst))
        assert (dst / "big.bin").read_bytes() == files["big.bin"]
        rclone("delete", f"kosha:{name}/tree/sub")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]
        assert not any(k.startswith("tree/sub/") for k in keys)
    finally:
        empty_bucket(s3, name)


# ------------------------------------------------------------------------------ s3cmd

@pytest.fixture
def s3cmd(server, s3_user, tmp_path):
    exe = shutil.which("s3cmd")
    if exe is None:
        pytest.skip("s3cmd not installed")
    host = urlsplit(server.s3_url).netloc
    cfg = tmp_path / "s3cfg"
    cfg.write_text(f"[default]\naccess_key = {s3_user.access_key}\n"
                   f"secret_key = {s3_user.secret_key}\nhost_base = {host}\n"
                   f"host_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
                   f"bucket_location = {REGION}\nmultipart_chunk_size_mb = 5\n")

    def call(*args: str) -> subprocess.CompletedProcess:
        return run([exe, "-c", str(cfg), *args], {**os.environ, "HOME": str(tmp_path)})
    return call


def test_s3cmd(s3cmd, s3, tmp_path):
    from s3_helpers import empty_bucket, unique_bucket
    name = unique_bucket("s3cmd")
    s3cmd("mb", f"s3://{name}")
    try:
        src = tmp_path / "src"
        files = make_tree(src)
        s3cmd("put", str(src / "a.txt"), f"s3://{name}/a.txt")
        s3cmd("put", str(src / "big.bin"), f"s3://{name}/big.bin")
        assert s3.head_object(Bucket=name, Key="big.bin")["ContentLength"] == 12 * MiB
        out = s3cmd("ls", f"s3://{name}").stdout
        assert "a.txt" in out and "big.bin" in out
        s3cmd("get", f"s3://{name}/big.bin", str(tmp_path / "big.out"))
        assert (tmp_path / "big.out").read_bytes() == files["big.bin"]
        s3cmd("sync", str(src) + "/", f"s3://{name}/tree/")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=name, Prefix="tree/")["Contents"]}
        assert keys == {f"tree/{k}" for k in files}
        out = s3cmd("info", f"s3://{name}/a.txt").stdout
        assert "MD5 sum" in out
        s3cmd("del", f"s3://{name}/a.txt")
        s3cmd("del", "--recursive", "--force", f"s3://{name}/tree/")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
        assert keys == ["big.bin"]
    finally:
        empty_bucket(s3, name)
