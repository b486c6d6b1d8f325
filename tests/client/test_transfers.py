"""`kosha cp` and `kosha mv`: uploads, downloads, remote copies, parts, resume, progress."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .cli_helpers import API, Cli, get, keys, put

MiB = 1024 * 1024


def _tree(root: Path) -> dict[str, bytes]:
    files = {"top.txt": b"top\n", "empty": b"", "a/one.bin": os.urandom(70_000),
             "a/b/c/deep.txt": b"deep" * 1000, "a/b/two.bin": os.urandom(3000),
             "space name/é ü.txt": "unicode ✓".encode()}
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return files


def _md5_remote(client: Any, bucket: str, key: str) -> str:
    digest = hashlib.md5()
    with client.stream("POST", f"{API}/buckets/{bucket}/objects/download", json={"objectkey": key},
                       headers={"Accept": "application/octet-stream"}) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as source:
        while chunk := source.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def _random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            out.write(os.urandom(MiB))
        out.write(os.urandom(size % MiB))
    return path


def test_a_file_goes_into_a_folder_under_its_own_name(cli: Cli, account: Any, bucket: str,
                                                      tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_bytes(b"a,b\n1,2\n")
    assert cli("cp", str(tmp_path / "report.csv"), f"kos://{bucket}/2026/").code == 0
    assert get(account, bucket, "2026/report.csv") == b"a,b\n1,2\n"


def test_a_file_can_be_given_its_key(cli: Cli, account: Any, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"data")
    assert cli("cp", str(tmp_path / "x"), f"kos://{bucket}/renamed.txt").code == 0
    assert get(account, bucket, "renamed.txt") == b"data"


def test_an_object_downloads_into_a_directory_or_to_a_path(cli: Cli, account: Any, bucket: str,
                                                           tmp_path: Path) -> None:
    put(account, bucket, "dir/file.bin", b"\x00\x01" * 5000)
    assert cli("cp", f"kos://{bucket}/dir/file.bin", str(tmp_path)).code == 0
    assert cli("cp", f"kos://{bucket}/dir/file.bin", str(tmp_path / "other.bin")).code == 0
    assert (tmp_path / "file.bin").read_bytes() == b"\x00\x01" * 5000
    assert (tmp_path / "other.bin").read_bytes() == b"\x00\x01" * 5000
    assert not list(tmp_path.glob("*.kosha-partial"))


def test_a_tree_uploads_and_downloads_byte_for_byte(cli: Cli, account: Any, bucket: str,
                                                    tmp_path: Path) -> None:
    source = tmp_path / "src"
    files = _tree(source)
    up = cli("cp", "-r", "--json", str(source), f"kos://{bucket}/backup/")
    assert up.code == 0, up.err
    assert keys(account, bucket) == sorted(f"backup/{k}" for k in files)
    assert up.lines()[-1]["files"] == len(files)
    down = cli("cp", "-r", f"kos://{bucket}/backup/", str(tmp_path / "dst"))
    assert down.code == 0, down.err
    for relative, data in files.items():
        assert (tmp_path / "dst" / relative).read_bytes() == data


def test_a_directory_without_r_is_a_usage_error(cli: Cli, bucket: str, tmp_path: Path) -> None:
    assert cli("cp", str(tmp_path), f"kos://{bucket}/").code == 2


def test_a_missing_local_file_exits_3(cli: Cli, bucket: str, tmp_path: Path) -> None:
    assert cli("cp", str(tmp_path / "nope"), f"kos://{bucket}/").code == 3


def test_a_big_file_goes_up_in_parallel_parts(cli: Cli, account: Any, bucket: str,
                                              tmp_path: Path) -> None:
    source = _random_file(tmp_path / "big", 12 * MiB + 123)
    result = cli("cp", "--json", "--part-size", "5M", "--parallel", "3", str(source),
                 f"kos://{bucket}/big")
    assert result.code == 0, result.err
    assert result.lines()[0]["parts"] == 3
    assert _md5_remote(account, bucket, "big") == _md5_file(source)


def test_a_key_a_form_cannot_carry_still_uploads(cli: Cli, account: Any, bucket: str,
                                                 tmp_path: Path) -> None:
    (tmp_path / 'say "hi"\\now').write_bytes(b"quoted")
    assert cli("cp", str(tmp_path / 'say "hi"\\now'), f"kos://{bucket}/").code == 0
    assert get(account, bucket, 'say "hi"\\now') == b"quoted"


def test_remote_copy_within_a_bucket_and_across_buckets(cli: Cli, account: Any, bucket: str) -> None:
    put(account, bucket, "src/a.txt", b"A")
    put(account, bucket, "src/sub/b.txt", b"BB")
    other = f"c-{uuid.uuid4().hex[:12]}"
    assert cli("mb", f"kos://{other}").code == 0
    assert cli("cp", "-r", f"kos://{bucket}/src/", f"kos://{bucket}/copy/").code == 0
    assert cli("cp", f"kos://{bucket}/src/sub/b.txt", f"kos://{other}/").code == 0
    assert keys(account, bucket) == ["copy/a.txt", "copy/sub/b.txt", "src/a.txt", "src/sub/b.txt"]
    assert get(account, bucket, "copy/sub/b.txt") == b"BB"
    assert get(account, other, "b.txt") == b"BB"


def test_mv_moves_remote_objects(cli: Cli, account: Any, bucket: str) -> None:
    put(account, bucket, "old/x", b"X")
    assert cli("mv", "-r", f"kos://{bucket}/old/", f"kos://{bucket}/new/").code == 0
    assert keys(account, bucket) == ["new/x"]


def test_mv_of_a_local_file_removes_it_once_uploaded(cli: Cli, account: Any, bucket: str,
                                                     tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"moved")
    assert cli("mv", str(tmp_path / "f"), f"kos://{bucket}/f").code == 0
    assert get(account, bucket, "f") == b"moved"
    assert not (tmp_path / "f").exists()


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_an_interrupted_upload_resumes_where_it_stopped(cli: Cli, account: Any, bucket: str,
                                                        tmp_path: Path) -> None:
    source = _random_file(tmp_path / "200m", 200 * MiB)
    args = ("cp", "--json", "--part-size", "8M", str(source), f"kos://{bucket}/200m")
    running = cli.popen(*args, "--limit-rate", "10M")
    states = cli.home / "cache" / "kosha" / "transfers"
    _wait_for(lambda: states.exists() and any(states.iterdir()))
    upload_id = json.loads(next(states.iterdir()).read_text())["upload_id"]
    _wait_for(lambda: len(account.get(f"{API}/buckets/{bucket}/uploads/{upload_id}")
                          .json()["parts"]) >= 2)
    assert running.poll() is None, "the limited upload should still be running"
    running.send_signal(signal.SIGKILL)
    running.wait()
    result = cli(*args)
    assert result.code == 0, result.err
    upload, summary = result.lines()
    assert "parts already uploaded" in result.err
    assert upload["resumedParts"] > 0
    assert summary["bytesTransferred"] < 200 * MiB
    assert _md5_remote(account, bucket, "200m") == _md5_file(source)
    assert not any(states.iterdir())


def test_an_interrupted_download_resumes_where_it_stopped(cli: Cli, account: Any, bucket: str,
                                                          tmp_path: Path) -> None:
    source = _random_file(tmp_path / "200m", 200 * MiB)
    assert cli("cp", str(source), f"kos://{bucket}/200m").code == 0
    target = tmp_path / "copy"
    partial = tmp_path / "copy.kosha-partial"
    args = ("cp", "--json", f"kos://{bucket}/200m", str(target))
    running = cli.popen(*args, "--limit-rate", "10M")
    _wait_for(lambda: partial.exists() and partial.stat().st_size > 20 * MiB)
    running.send_signal(signal.SIGKILL)
    running.wait()
    result = cli(*args)
    assert result.code == 0, result.err
    download, summary = result.lines()
    assert download["resumedBytes"] > 0
    assert summary["bytesTransferred"] == 200 * MiB - download["resumedBytes"]
    assert _md5_file(target) == _md5_file(source)
    assert not partial.exists()


def test_a_terminal_shows_a_progress_bar(cli: Cli, bucket: str, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "f", 6 * MiB)
    code, shown = cli.on_terminal("cp", "--limit-rate", "4M", str(source), f"kos://{bucket}/f")
    assert code == 0
    assert "100%" in shown and "MiB/s" in shown and "ETA" in shown


def test_no_terminal_no_progress_bar(cli: Cli, bucket: str, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "f", 6 * MiB)
    result = cli("cp", "--limit-rate", "4M", str(source), f"kos://{bucket}/f")
    assert result.code == 0
    assert result.err == ""


def test_limit_rate_holds_the_transfer_back(cli: Cli, bucket: str, tmp_path: Path) -> None:
    source = _random_file(tmp_path / "f", 5 * MiB)
    started = time.monotonic()
    assert cli("cp", "--limit-rate", "2M", str(source), f"kos://{bucket}/f").code == 0
    assert time.monotonic() - started > 1.5


def test_json_transfer_lines_name_each_file(cli: Cli, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1").write_bytes(b"1")
    (tmp_path / "d" / "2").write_bytes(b"22")
    lines = cli("cp", "-r", "--json", str(tmp_path / "d"), f"kos://{bucket}/d/").lines()
    assert sorted((e["destination"], e["size"]) for e in lines[:-1]) == [
        (f"kos://{bucket}/d/1", 1), (f"kos://{bucket}/d/2", 2)]
    assert lines[-1]["done"] is True and lines[-1]["files"] == 2


_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
                min_size=1, max_size=12).filter(lambda n: n not in (".", "..")
                                                and len(n.encode()) < 200)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(paths=st.lists(st.lists(_NAME, min_size=1, max_size=3).map("/".join), min_size=1,
                      max_size=6, unique=True))
def test_any_tree_of_names_round_trips(cli: Cli, account: Any, bucket: str, tmp_path_factory: Any,
                                       paths: list[str]) -> None:
    """Whatever the names (quotes, backslashes, spaces, any script), a tree goes up with keys
    equal to its paths and comes down byte for byte."""
    files = {p: p.encode() * 3 for p in paths
             if not any(q != p and q.startswith(p + "/") for q in paths)}
    source, target = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dst")
    for relative, data in files.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_bytes(data)
    prefix = f"t{uuid.uuid4().hex[:8]}/"
    up = cli("cp", "-r", str(source), f"kos://{bucket}/{prefix}")
    assert up.code == 0, up.err
    assert keys(account, bucket, prefix) == sorted(prefix + p for p in files)
    down = cli("cp", "-r", f"kos://{bucket}/{prefix}", str(target))
    assert down.code == 0, down.err
    for relative, data in files.items():
        assert (target / relative).read_bytes() == data
