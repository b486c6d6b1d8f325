"""`kosha rb --force` on a versioned bucket: every version goes, of live keys and deleted ones."""

from __future__ import annotations

import uuid
from typing import Any

from .cli_helpers import API, Cli


def _versioned(cli: Cli) -> str:
    name = f"c-{uuid.uuid4().hex[:12]}"
    assert cli("mb", "--versioning", f"kos://{name}").code == 0
    return name


def _write(client: Any, bucket: str, names: list[str]) -> None:
    """One form request; a name given n times becomes n versions of that key."""
    response = client.put(f"{API}/buckets/{bucket}/objects",
                          files=[("file", (n, n.encode(), "application/octet-stream")) for n in names])
    assert response.status_code == 201, response.text


def _delete(client: Any, bucket: str, key: str) -> None:
    response = client.post(f"{API}/buckets/{bucket}/objects/delete", json={"objectkey": key})
    assert response.status_code == 200, response.text


def _versions(client: Any, bucket: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/buckets/{bucket}/objects/versions")
    assert response.status_code == 200, response.text
    return list(response.json()["versions"])


def test_rb_force_removes_deleted_keys_markers_and_noncurrent_versions(cli: Cli,
                                                                       account: Any) -> None:
    name = _versioned(cli)
    _write(account, name, ["live", "live", "gone", "gone", "dir/old", "dir/old", "dir/old"])
    _delete(account, name, "gone")
    _delete(account, name, "dir/old")
    _write(account, name, ["dir/old"])   # a marker under a newer version
    assert {(v["key"], v["isDeleteMarker"]) for v in _versions(account, name)} >= {
        ("gone", True), ("dir/old", True), ("live", False)}
    result = cli("rb", "--force", f"kos://{name}")
    assert result.code == 0, result.err
    assert account.get(f"{API}/buckets/{name}").status_code == 404


def test_rb_force_purges_past_a_page_boundary_inside_one_key(cli: Cli, account: Any) -> None:
    """1,200 versions: the first page of 1,000 ends within key 334's three versions, which the
    purge deletes while it pages on."""
    name = _versioned(cli)
    names = [f"k{n:04d}" for n in range(400)]
    for start in range(0, len(names), 50):
        _write(account, name, [n for n in names[start:start + 50] for _ in range(3)])
    for key in names[::40]:
        _delete(account, name, key)
    result = cli("rb", "--force", f"kos://{name}")
    assert result.code == 0, result.err
    assert account.get(f"{API}/buckets/{name}").status_code == 404


def test_rb_without_force_leaves_a_bucket_of_only_old_versions(cli: Cli, account: Any) -> None:
    name = _versioned(cli)
    _write(account, name, ["a", "a"])
    _delete(account, name, "a")
    result = cli("rb", f"kos://{name}")
    assert result.code == 5
    assert len(_versions(account, name)) == 3
