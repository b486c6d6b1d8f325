"""The client used carelessly: Ctrl-C mid-transfer, `cp -r` of a file or of nothing, trees with
links and unreadable files, folders copied into folders that exist, deleted keys, bad rule
options, a member at an admin's command, removing one's own key, and what --help says."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .cli_helpers import API, Cli, get, keys, put

MiB = 1024 * 1024


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _interrupt(cli: Cli, ready: Any, *args: str) -> tuple[int, str, float]:
    """Run `args`, press Ctrl-C once `ready()`: the exit code, stderr, and seconds to exit."""
    process = subprocess.Popen(cli.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=cli.environment(), cwd=cli.home,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(ready)
    assert process.poll() is None, "the transfer should still be running"
    process.send_signal(signal.SIGINT)
    pressed = time.monotonic()
    _out, err = process.communicate(timeout=60)
    return process.returncode, err, time.monotonic() - pressed


# -- Ctrl-C --------------------------------------------------------------------------------------

def test_ctrl_c_stops_a_download_at_once_and_it_resumes(cli: Cli, account: Any, bucket: str,
                                                        tmp_path: Path) -> None:
    data = os.urandom(24 * MiB)
    put(account, bucket, "big", data)
    target, partial = tmp_path / "big", tmp_path / "big.kosha-partial"
    args = ("cp", "--json", f"kos://{bucket}/big", str(target))
    code, err, seconds = _interrupt(
        cli, lambda: partial.exists() and partial.stat().st_size > 2 * MiB,
        *args, "--limit-rate", "4M")
    assert code == 130
    assert err.strip().splitlines() == [
        "kosha: interrupted; run the same command again to resume a copy"]
    assert seconds < 3, "Ctrl-C must not wait for the download to finish"
    assert not target.exists() and partial.exists()
    result = cli(*args)
    assert result.code == 0, result.err
    assert result.lines()[0]["resumedBytes"] > 0
    assert target.read_bytes() == data


def test_ctrl_c_stops_an_upload_in_parts_at_once(cli: Cli, account: Any, bucket: str,
                                                 tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(os.urandom(24 * MiB))
    states = cli.home / "cache" / "kosha" / "transfers"
    code, _err, seconds = _interrupt(
        cli, lambda: states.exists() and any(states.iterdir()),
        "cp", "--part-size", "5M", "--limit-rate", "4M", str(source), f"kos://{bucket}/big")
    assert code == 130
    assert seconds < 3, "Ctrl-C must not wait for the parts in flight"
    assert "big" not in keys(account, bucket)


# -- what cp -r copies ---------------------------------------------------------------------------

def test_cp_r_of_a_single_object_copies_that_object(cli: Cli, account: Any, bucket: str,
                                                    tmp_path: Path) -> None:
    put(account, bucket, "docs/a.txt", b"alpha")
    result = cli("cp", "-r", f"kos://{bucket}/docs/a.txt", str(tmp_path / "a.txt"))
    assert result.code == 0, result.err
    assert (tmp_path / "a.txt").read_bytes() == b"alpha"
    assert cli("cp", "-r", f"kos://{bucket}/docs/a.txt", f"kos://{bucket}/copy/").code == 0
    assert get(account, bucket, "copy/a.txt") == b"alpha"


@pytest.mark.parametrize("source", ["nothing", "nothing/"])
def test_cp_r_of_a_prefix_holding_nothing_is_exit_3(cli: Cli, bucket: str, tmp_path: Path,
                                                    source: str) -> None:
    result = cli("cp", "-r", f"kos://{bucket}/{source}", str(tmp_path / "out"))
    assert result.code == 3, result.err
    assert "kos://" in result.err and not (tmp_path / "out").exists()


def test_a_folder_copied_into_existing_folders_does_not_nest(cli: Cli, account: Any, bucket: str,
                                                             tmp_path: Path) -> None:
    (tmp_path / "site" / "css").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_bytes(b"<h1>")
    (tmp_path / "site" / "css" / "a.css").write_bytes(b"p{}")
    put(account, bucket, "www/old.txt", b"old")
    assert cli("cp", "-r", str(tmp_path / "site"), f"kos://{bucket}/www/").code == 0
    assert keys(account, bucket) == ["www/css/a.css", "www/index.html", "www/old.txt"]
    existing = tmp_path / "existing"
    existing.mkdir()
    assert cli("cp", "-r", f"kos://{bucket}/www", str(existing)).code == 0
    assert sorted(p.relative_to(existing).as_posix() for p in existing.rglob("*")
                  if p.is_file()) == ["css/a.css", "index.html", "old.txt"]


# -- links and unreadable files ------------------------------------------------------------------

def test_a_broken_link_is_skipped_and_the_rest_copied_then_exit_3(cli: Cli, account: Any,
                                                                  bucket: str,
                                                                  tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_bytes(b"a")
    (tree / "z").write_bytes(b"z")
    (tree / "dangling").symlink_to(tmp_path / "missing")
    result = cli("cp", "-r", "--json", str(tree), f"kos://{bucket}/t/")
    assert result.code == 3
    assert f"kosha: skipping {tree / 'dangling'}: a broken symbolic link" in result.err
    assert result.lines()[-1]["skipped"] == 1
    assert keys(account, bucket) == ["t/a", "t/z"]


def test_links_to_files_are_copied_and_links_to_folders_not_followed(cli: Cli, account: Any,
                                                                     bucket: str,
                                                                     tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_bytes(b"f")
    (tree / "link-to-f").symlink_to(tree / "d" / "f")
    (tree / "up").symlink_to(tmp_path)   # a loop, were it followed
    result = cli("cp", "-r", str(tree), f"kos://{bucket}/")
    assert result.code == 0, result.err
    assert f"not following {tree / 'up'}: a link to a folder" in result.err
    assert keys(account, bucket) == ["d/f", "link-to-f"]
    assert get(account, bucket, "link-to-f") == b"f"


def _without_root_powers(cli: Cli) -> list[str]:
    """A prefix that makes file permissions bind (root reads anything otherwise)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to bind")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]


def test_an_unreadable_file_is_skipped_and_the_rest_copied_then_exit_4(cli: Cli, account: Any,
                                                                       bucket: str,
                                                                       tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a").write_bytes(b"a")
    (tree / "secret").write_bytes(b"s")
    (tree / "secret").chmod(0)
    (tree / "z").write_bytes(b"z")
    done = subprocess.run([*_without_root_powers(cli), *cli.command("cp", "-r", str(tree),
                                                                      f"kos://{bucket}/t/")],
                          capture_output=True, text=True, env=cli.environment(), cwd=cli.home,
                          timeout=120)
    assert done.returncode == 4, done.stderr
    assert f"kosha: skipping {tree / 'secret'}: permission denied" in done.stderr
    assert "1 skipped" in done.stderr
    assert keys(account, bucket) == ["t/a", "t/z"]


def _put_key(client: Any, bucket: str, key: str, data: bytes) -> None:
    """Any key, '..' included (through the multipart extension: a form names files)."""
    upload = client.post(f"{API}/buckets/{bucket}/uploads", json={"objectkey": key}).json()
    base = f"{API}/buckets/{bucket}/uploads/{upload['uploadId']}"
    etag = client.put(f"{base}/parts/1", content=data).json()["etag"]
    done = client.post(f"{base}/complete", json={"parts": [{"partNumber": 1, "etag": etag}]})
    assert done.status_code == 200, done.text


@pytest.mark.parametrize("key", ["..", "a/..", "b/."])
def test_a_key_with_no_file_name_needs_one_given(cli: Cli, account: Any, bucket: str,
                                                 tmp_path: Path, key: str) -> None:
    _put_key(account, bucket, key, b"x")
    into = tmp_path / "work" / "into"
    into.mkdir(parents=True)
    result = cli("cp", f"kos://{bucket}/{key}", str(into))
    assert result.code == 2
    assert "name the file" in result.err
    assert [p.name for p in (tmp_path / "work").rglob("*")] == ["into"]


def test_keys_climbing_out_are_skipped_and_the_rest_downloaded(cli: Cli, account: Any,
                                                               bucket: str,
                                                               tmp_path: Path) -> None:
    for key in ("../up", "a/../../up2", "ok/one"):
        _put_key(account, bucket, key, b"x")
    work = tmp_path / "work"
    into = work / "deep" / "into"
    into.mkdir(parents=True)
    result = cli("cp", "-r", f"kos://{bucket}/", str(into))
    assert result.code == 2
    assert f"skipping kos://{bucket}/../up" in result.err
    assert [p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()] \
        == ["deep/into/ok/one"]


def test_rm_of_a_folder_without_r_says_to_add_r(cli: Cli, account: Any, bucket: str) -> None:
    put(account, bucket, "logs/a", b"a")
    result = cli("rm", f"kos://{bucket}/logs")
    assert result.code == 3
    assert f"kos://{bucket}/logs/ is a folder: add -r" in result.err
    assert keys(account, bucket) == ["logs/a"]


def test_rm_of_a_bucket_points_to_rb(cli: Cli, bucket: str) -> None:
    result = cli("rm", f"kos://{bucket}")
    assert result.code == 2
    assert "kosha rb" in result.err


def test_rb_of_a_path_inside_a_bucket_is_refused_and_removes_nothing(cli: Cli, account: Any,
                                                                     bucket: str) -> None:
    put(account, bucket, "tmp/a", b"a")
    put(account, bucket, "keep", b"k")
    result = cli("rb", "--force", f"kos://{bucket}/tmp")
    assert result.code == 2
    assert f"write kos://{bucket}" in result.err
    assert keys(account, bucket) == ["keep", "tmp/a"]


@pytest.mark.parametrize("command", [["mb"], ["lifecycle", "ls"], ["lifecycle", "preview"]])
def test_bucket_commands_refuse_a_key(cli: Cli, bucket: str, command: list[str]) -> None:
    result = cli(*command, f"kos://{bucket}/sub")
    assert result.code == 2
    assert "takes a bucket" in result.err


@pytest.mark.parametrize("path", ["", "folder/"])
def test_share_and_cat_refuse_a_bucket_or_folder(cli: Cli, bucket: str, path: str) -> None:
    for command in ("share", "cat"):
        result = cli(command, f"kos://{bucket}/{path}")
        assert result.code == 2
        assert "takes an object" in result.err


def test_du_counts_each_top_level_entry_once_however_names_interleave(cli: Cli, account: Any,
                                                                      bucket: str) -> None:
    for key in ("a", "a.b/x", "a/y", "a/z/w", "a0", "b/c/d", "b.txt"):
        put(account, bucket, key, b"12")
    answer = cli("du", "--json", f"kos://{bucket}").json()
    assert [(e["name"], e["objects"]) for e in answer["entries"]] == [
        ("a", 1), ("a.b/", 1), ("a/", 2), ("a0", 1), ("b.txt", 1), ("b/", 1)]
    assert answer["bytes"] == 14 and answer["bucket"]["objectCount"] == 7


def test_du_of_a_missing_bucket_writes_nothing_on_stdout(cli: Cli) -> None:
    result = cli("du", "--json", "kos://no-such-bucket-here")
    assert result.code == 3 and result.out == ""


# -- stat, lifecycle, policy, keys ---------------------------------------------------------------

def test_stat_versions_of_a_deleted_key_lists_its_versions(cli: Cli, account: Any) -> None:
    bucket = cli("mb", "--versioning", "--json", f"kos://v-{os.urandom(6).hex()}").json()["name"]
    put(account, bucket, "k", b"one")
    put(account, bucket, "k", b"two")
    assert cli("rm", f"kos://{bucket}/k").code == 0
    result = cli("stat", "--versions", "--json", f"kos://{bucket}/k")
    assert result.code == 0, result.err
    answer = result.json()
    assert answer["deleted"] is True
    assert [v["isDeleteMarker"] for v in answer["versions"]] == [True, False, False]


def test_lifecycle_add_passes_zero_days_on(cli: Cli, account: Any, bucket: str) -> None:
    result = cli("lifecycle", "add", "--json", f"kos://{bucket}", "--name", "now",
                 "--expire-days", "0")
    assert result.code == 0, result.err
    assert result.json()["expiration_days"] == 0


def test_lifecycle_add_with_two_different_prefixes_is_a_usage_error(cli: Cli, bucket: str) -> None:
    result = cli("lifecycle", "add", f"kos://{bucket}/tmp/", "--prefix", "logs/", "--name", "x",
                 "--expire-days", "3")
    assert result.code == 2
    assert "two prefixes" in result.err


def test_lifecycle_preview_takes_a_rule_by_name(cli: Cli, bucket: str) -> None:
    assert cli("lifecycle", "add", f"kos://{bucket}", "--name", "week",
               "--expire-days", "7").code == 0
    result = cli("lifecycle", "preview", "--json", "--rule", "week", f"kos://{bucket}")
    assert result.code == 0, result.err
    assert [rule["name"] for rule in result.json()["rules"]] == ["week"]


def test_policy_simulate_as_a_member_says_to_ask_an_admin(cli_for: Any, member: Any,
                                                          bucket: str) -> None:
    result = cli_for(member, own_key=True)("policy", "simulate", "--action", "kos:GetObject",
                                           f"kos://{bucket}/k")
    assert result.code == 4
    assert "ask" in result.err and "admin" in result.err and "--user" in result.err


def test_removing_the_profiles_own_key_signs_it_out_and_says_so(cli: Cli, bucket: str) -> None:
    plain = Cli(cli.home, {"KOSHA_ENDPOINT": cli.env["KOSHA_ENDPOINT"]})
    key = cli.env["KOSHA_ACCESS_KEY"]
    assert plain("login", "--access-key", key, "--secret-key-stdin",
                 input=cli.env["KOSHA_SECRET_KEY"] + "\n").code == 0
    result = Cli(cli.home)("keys", "rm", "--force", key)
    assert result.code == 0, result.err
    assert "signed out" in result.err and "kosha login" in result.err
    profile = json.loads(cli.config_file.read_text())["profiles"]["default"]
    assert profile["session"] == {}


def test_login_to_an_endpoint_without_a_scheme_is_a_usage_error(cli: Cli) -> None:
    result = Cli(cli.home)("login", "--endpoint", "127.0.0.1:8080", "--access-key", "KOSX",
                           "--secret-key-stdin", input="secret\n")
    assert result.code == 2
    assert "http://127.0.0.1:8080" in result.err


def test_a_mistyped_profile_is_named_with_the_profiles_there_are(cli: Cli) -> None:
    plain = Cli(cli.home, {"KOSHA_ENDPOINT": cli.env["KOSHA_ENDPOINT"]})
    assert plain("login", "--profile", "work", "--access-key", cli.env["KOSHA_ACCESS_KEY"],
                 "--secret-key-stdin", input=cli.env["KOSHA_SECRET_KEY"] + "\n").code == 0
    result = Cli(cli.home)("whoami", "--profile", "wrok")
    assert result.code == 4
    assert "'wrok'" in result.err and "work" in result.err


@pytest.mark.parametrize("value", ["0", "-3", "100000", "x"])
def test_parallel_outside_1_to_64_is_a_usage_error(cli: Cli, bucket: str, tmp_path: Path,
                                                   value: str) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"f")
    result = cli("cp", "--parallel", value, str(source), f"kos://{bucket}/f")
    assert result.code == 2
    assert "--parallel" in result.err


# -- help ----------------------------------------------------------------------------------------

def test_kosha_alone_prints_a_short_usage_that_mentions_login(cli: Cli) -> None:
    result = Cli(cli.home)()
    assert result.code == 2
    assert "kosha login --endpoint URL --access-key KEY" in result.err
    assert "kosha serve" in result.err and len(result.err.splitlines()) < 12


def test_help_groups_server_and_client_commands(cli: Cli) -> None:
    text = Cli(cli.home)("--help").out
    server, client = text.split("server commands")[1].split("client commands")
    assert all(f"  {name} " in server for name in ("serve", "admin", "gc"))
    assert all(f"  {name} " in client for name in ("login", "cp", "ls", "keys", "policy"))
    assert "  login " not in server and "  serve " not in client


@pytest.mark.parametrize("command", [
    ["whoami"], ["ls"], ["ls", "-l"], ["keys", "ls"], ["du", "kos://{bucket}"],
    ["stat", "kos://{bucket}"], ["stat", "--versions", "kos://{bucket}/k"],
    ["share", "kos://{bucket}/k"], ["lifecycle", "ls", "kos://{bucket}"],
    ["lifecycle", "preview", "kos://{bucket}"], ["ls", "-r", "kos://{bucket}"],
    ["policy", "simulate", "--action", "kos:GetObject", "kos://{bucket}/k"],
])
def test_json_output_is_json_lines_only(cli: Cli, account: Any, bucket: str,
                                        command: list[str]) -> None:
    put(account, bucket, "k", b"v")
    result = cli(*[part.format(bucket=bucket) for part in command], "--json")
    assert result.code == 0, result.err
    for line in result.out.splitlines():
        json.loads(line)

