"""The client's commands other than transfers: ls, mb, rb, rm, cat, stat, share, du, keys,
lifecycle, policy simulate, and the exit codes that tell outcomes apart."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .cli_helpers import API, Cli, keys, put


@pytest.fixture
def filled(account: Any, bucket: str) -> str:
    for key, data in {"a.txt": b"alpha", "docs/b.txt": b"b" * 3000,
                      "docs/deep/c.txt": b"c" * 5, "z.bin": b"z" * 2048}.items():
        put(account, bucket, key, data)
    return bucket


def test_ls_without_a_path_lists_buckets(cli: Cli, bucket: str) -> None:
    result = cli("ls")
    assert result.code == 0, result.err
    assert bucket in result.out.split()


def test_ls_shows_the_children_of_a_prefix(cli: Cli, filled: str) -> None:
    result = cli("ls", f"kos://{filled}/")
    assert result.out.split() == ["a.txt", "docs/", "z.bin"]


def test_ls_long_has_dates_and_human_sizes(cli: Cli, filled: str) -> None:
    lines = cli("ls", "-l", f"kos://{filled}/docs/").out.splitlines()
    assert lines[0].split()[-3:] == ["2.9", "KiB", "b.txt"]
    assert lines[1].split() == ["PRE", "deep/"]


def test_ls_recursive_lists_every_key_in_order(cli: Cli, filled: str) -> None:
    result = cli("ls", "-r", f"kos://{filled}")
    assert result.out.split() == ["a.txt", "docs/b.txt", "docs/deep/c.txt", "z.bin"]


def test_ls_json_is_one_object_per_line(cli: Cli, filled: str) -> None:
    entries = cli("ls", "-r", "--json", f"kos://{filled}/docs/").lines()
    assert [(e["key"], e["size"]) for e in entries] == [("docs/b.txt", 3000), ("docs/deep/c.txt", 5)]


def test_ls_pages_through_long_listings(cli: Cli, account: Any, bucket: str) -> None:
    names = [f"k{i:04d}" for i in range(1005)]
    for start in range(0, len(names), 250):
        response = account.put(f"{API}/buckets/{bucket}/objects",
                               files=[("file", (n, b"x", "text/plain")) for n in names[start:start + 250]])
        assert response.status_code == 201
    assert cli("ls", f"kos://{bucket}/").out.split() == names


def test_ls_of_an_unknown_bucket_exits_3(cli: Cli) -> None:
    result = cli("ls", "kos://no-such-bucket-here/")
    assert result.code == 3
    assert result.err.startswith("kosha: ") and result.err.count("\n") == 1


def test_another_users_denied_request_exits_4(cli_for: Callable[[Any], Cli], member: Any,
                                              filled: str) -> None:
    result = cli_for(member, True)("cat", f"kos://{filled}/a.txt")
    assert result.code == 4, result.err


def test_mb_creates_and_rb_removes_a_bucket(cli: Cli, account: Any) -> None:
    name = f"c-{uuid.uuid4().hex[:12]}"
    assert cli("mb", f"kos://{name}").code == 0
    assert account.get(f"{API}/buckets/{name}").status_code == 200
    assert cli("rb", f"kos://{name}").code == 0
    assert account.get(f"{API}/buckets/{name}").status_code == 404


def test_mb_of_a_taken_name_exits_5(cli: Cli, bucket: str) -> None:
    assert cli("mb", f"kos://{bucket}").code == 5


def test_rb_of_a_bucket_with_objects_exits_5_and_says_to_empty_it(cli: Cli, filled: str) -> None:
    result = cli("rb", f"kos://{filled}")
    assert result.code == 5
    assert "not empty" in result.err and "rm -r --force" in result.err


def test_rb_force_empties_the_bucket_first(cli: Cli, account: Any, filled: str) -> None:
    assert cli("rb", "--force", f"kos://{filled}").code == 0
    assert account.get(f"{API}/buckets/{filled}").status_code == 404


def test_rb_force_removes_every_version_of_a_versioned_bucket(cli: Cli, account: Any) -> None:
    name = f"c-{uuid.uuid4().hex[:12]}"
    assert cli("mb", "--versioning", f"kos://{name}").code == 0
    for data in (b"one", b"two"):
        put(account, name, "k", data)
    result = cli("rb", "--force", f"kos://{name}")
    assert result.code == 0, result.err
    assert account.get(f"{API}/buckets/{name}").status_code == 404


def test_rm_removes_one_object(cli: Cli, account: Any, filled: str) -> None:
    assert cli("rm", f"kos://{filled}/a.txt").code == 0
    assert keys(account, filled) == ["docs/b.txt", "docs/deep/c.txt", "z.bin"]


def test_rm_of_a_missing_object_exits_3(cli: Cli, filled: str) -> None:
    assert cli("rm", f"kos://{filled}/missing.txt").code == 3


def test_rm_recursive_is_refused_without_force_when_no_terminal(cli: Cli, account: Any,
                                                                filled: str) -> None:
    result = cli("rm", "-r", f"kos://{filled}/docs/")
    assert result.code == 2
    assert "--force" in result.err
    assert len(keys(account, filled)) == 4


def test_rm_recursive_asks_on_a_terminal_and_goes_ahead_on_yes(cli: Cli, account: Any,
                                                               filled: str) -> None:
    code, shown = cli.on_terminal("rm", "-r", f"kos://{filled}/docs/", answer="y\n")
    assert code == 0
    assert f"remove everything under kos://{filled}/docs/?" in shown
    assert keys(account, filled) == ["a.txt", "z.bin"]


def test_rm_recursive_on_a_terminal_does_nothing_without_yes(cli: Cli, account: Any,
                                                             filled: str) -> None:
    code, _shown = cli.on_terminal("rm", "-r", f"kos://{filled}/docs/", answer="n\n")
    assert code == 2
    assert len(keys(account, filled)) == 4


def test_rm_recursive_force_removes_everything_under_the_prefix(cli: Cli, account: Any,
                                                                filled: str) -> None:
    assert cli("rm", "-r", "--force", f"kos://{filled}/docs").code == 0
    assert keys(account, filled) == ["a.txt", "z.bin"]


def test_cat_writes_the_bytes(cli: Cli, account: Any, bucket: str) -> None:
    data = bytes(range(256)) * 100
    put(account, bucket, "bin", data)
    done = subprocess.run(cli.command("cat", f"kos://{bucket}/bin"),
                                        capture_output=True, env=cli.environment(), timeout=60)
    assert done.returncode == 0 and done.stdout == data


def test_stat_describes_an_object(cli: Cli, filled: str) -> None:
    meta = cli("stat", "--json", f"kos://{filled}/docs/b.txt").json()
    assert meta["size_bytes"] == 3000 and meta["etag"]


def test_stat_versions_lists_each_version(cli: Cli, account: Any) -> None:
    name = f"c-{uuid.uuid4().hex[:12]}"
    assert cli("mb", "--versioning", f"kos://{name}").code == 0
    put(account, name, "v", b"one")
    put(account, name, "v", b"two!")
    meta = cli("stat", "--versions", "--json", f"kos://{name}/v").json()
    assert [v["size_bytes"] for v in meta["versions"]] == [4, 3]


def test_stat_of_a_missing_object_exits_3(cli: Cli, bucket: str) -> None:
    assert cli("stat", f"kos://{bucket}/nothing").code == 3


def test_share_prints_a_url_that_downloads_the_object(cli: Cli, filled: str) -> None:
    result = cli("share", "--expires", "10m", f"kos://{filled}/a.txt")
    assert result.code == 0, result.err
    response = httpx.get(result.out.strip(), timeout=30)
    assert response.status_code == 200 and response.content == b"alpha"


def test_share_refuses_more_than_seven_days(cli: Cli, filled: str) -> None:
    assert cli("share", "--expires", "8d", f"kos://{filled}/a.txt").code == 2


def test_du_sums_each_top_level_entry_and_the_bucket(cli: Cli, filled: str) -> None:
    usage = cli("du", "--json", f"kos://{filled}").json()
    assert usage["bytes"] == 5 + 3000 + 5 + 2048 and usage["objects"] == 4
    assert {e["name"]: e["bytes"] for e in usage["entries"]} == {"a.txt": 5, "docs/": 3005,
                                                                 "z.bin": 2048}
    assert usage["bucket"]["objectCount"] == 4


def test_keys_create_shows_the_secret_once_and_ls_and_rm_follow(cli: Cli) -> None:
    made = cli("keys", "create", "--name", "ci", "--json").json()
    assert made["secret_key"]
    listing = cli("keys", "ls", "--json")
    assert made["access_key"] in [k["access_key"] for k in listing.lines()]
    assert made["secret_key"] not in listing.out
    assert cli("keys", "rm", made["access_key"]).code == 0
    assert made["access_key"] not in cli("keys", "ls").out


def test_lifecycle_add_ls_rm(cli: Cli, bucket: str) -> None:
    added = cli("lifecycle", "add", f"kos://{bucket}/logs/", "--name", "old-logs",
                "--expire-days", "30", "--json")
    assert added.code == 0, added.err
    rules = cli("lifecycle", "ls", "--json", f"kos://{bucket}").lines()
    assert [(r["name"], r["prefix"], r["expiration_days"]) for r in rules] == [("old-logs", "logs/", 30)]
    assert cli("lifecycle", "rm", f"kos://{bucket}", "old-logs").code == 0
    assert cli("lifecycle", "ls", f"kos://{bucket}").out == ""


def test_lifecycle_add_without_an_action_is_a_usage_error(cli: Cli, bucket: str) -> None:
    assert cli("lifecycle", "add", f"kos://{bucket}", "--name", "x").code == 2


def test_lifecycle_preview_answers_for_the_bucket(cli: Cli, filled: str) -> None:
    assert cli("lifecycle", "add", f"kos://{filled}", "--name", "all", "--expire-days", "1").code == 0
    result = cli("lifecycle", "preview", "--days", "5", "--json", f"kos://{filled}")
    assert result.code == 0, result.err
    assert result.json()["rules"][0]["totals"]["objects"] == 4
    text = cli("lifecycle", "preview", "--days", "5", f"kos://{filled}").out
    assert text.startswith("rule all (") and "4 objects" in text


def test_policy_simulate_allows_an_admin(cli: Cli, filled: str) -> None:
    result = cli("policy", "simulate", "--action", "kos:GetObject", "--json", f"kos://{filled}/a.txt")
    assert result.code == 0, result.err
    assert result.json()["allowed"] is True and result.json()["decision"] == "admin"


def test_policy_simulate_exits_4_when_denied(cli: Cli, member: Any, filled: str) -> None:
    result = cli("policy", "simulate", "--action", "kos:DeleteObject", "--user", member.kcid,
                 f"kos://{filled}/a.txt")
    assert result.code == 4, result.err
    assert result.out.startswith("denied (implicit-deny")


def test_whoami_names_the_user(cli: Cli, account: Any) -> None:
    me = cli("whoami", "--json").json()
    assert me["kcid"] == account.kcid


def test_the_client_starts_without_the_server_modules(cli: Cli) -> None:
    result = subprocess.run([*cli.command("ls")[:1], "-X", "importtime", *cli.command("ls")[1:]],
                            capture_output=True, text=True, env=cli.environment(), timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "kosha.client.api" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("starlette", "sqlalchemy", "uvicorn")}


def test_a_usage_error_exits_2(cli: Cli) -> None:
    assert cli("cp", "only-one-argument").code == 2
    assert cli("ls", "not-a-remote").code == 2

