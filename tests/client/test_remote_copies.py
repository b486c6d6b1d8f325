"""`kosha cp`/`kosha mv` remote to remote across buckets: the server's copy, no bytes through."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_helpers import API, Cli, get, keys, put

MiB = 1024 * 1024


def _stored(data_dir: Path) -> int:
    """Bytes in the server's blob files."""
    return sum(f.stat().st_size for f in (data_dir / "blobs").rglob("*") if f.is_file())


def _other_bucket(client: Any) -> str:
    name = f"c-{uuid.uuid4().hex[:12]}"
    assert client.post(f"{API}/buckets", json={"name": name}).status_code == 201
    return name


def test_a_big_copy_across_buckets_sends_no_bytes_and_stores_none(
        cli: Cli, account: Any, bucket: str, server: Any) -> None:
    data = os.urandom(64 * MiB)
    put(account, bucket, "big.bin", data)
    other = _other_bucket(account)
    stored = _stored(server.data_dir)
    result = cli("cp", "--json", f"kos://{bucket}/big.bin", f"kos://{other}/copies/")
    assert result.code == 0, result.err
    copied, summary = result.lines()
    assert copied["destination"] == f"kos://{other}/copies/big.bin" and copied["size"] == 64 * MiB
    assert summary["bytesTransferred"] == 0
    assert _stored(server.data_dir) == stored
    assert hashlib.md5(get(account, other, "copies/big.bin")).digest() == hashlib.md5(data).digest()


def test_mv_r_across_buckets_moves_the_tree(cli: Cli, account: Any, bucket: str) -> None:
    for key, data in (("logs/a", b"A"), ("logs/sub/b", b"BB"), ("keep", b"K")):
        put(account, bucket, key, data)
    other = _other_bucket(account)
    result = cli("mv", "-r", f"kos://{bucket}/logs/", f"kos://{other}/archive/")
    assert result.code == 0, result.err
    assert keys(account, bucket) == ["keep"]
    assert keys(account, other) == ["archive/a", "archive/sub/b"]
    assert get(account, other, "archive/sub/b") == b"BB"


def test_a_key_a_form_cannot_carry_copies_across_buckets(cli: Cli, account: Any,
                                                         bucket: str) -> None:
    put(account, bucket, "plain", b"quoted")
    other = _other_bucket(account)
    assert cli("cp", f"kos://{bucket}/plain", f'kos://{other}/say "hi"\\now').code == 0
    assert get(account, other, 'say "hi"\\now') == b"quoted"


def test_mv_without_delete_permission_exits_4_and_moves_nothing(
        cli_for: Callable[..., Cli], account: Any, member: Any, bucket: str) -> None:
    put(account, bucket, "k", b"1")
    other = _other_bucket(account)
    policy = account.post(f"{API}/account/policies", json={
        "name": f"p-{uuid.uuid4().hex[:8]}", "statements": [{
            "effect": "Allow", "actions": ["kos:GetObject", "kos:PutObject"], "resources": ["*"]}]})
    assert policy.status_code == 201, policy.text
    assert account.post(f"{API}/account/policies/attach", json={
        "policyKRNs": [policy.json()["policyKRN"]], "users": [member.kcid]}).status_code == 200
    as_member = cli_for(member, own_key=True)
    assert as_member("cp", f"kos://{bucket}/k", f"kos://{other}/copy").code == 0
    result = as_member("mv", f"kos://{bucket}/k", f"kos://{other}/moved")
    assert result.code == 4, result.err
    assert keys(account, bucket) == ["k"] and keys(account, other) == ["copy"]
