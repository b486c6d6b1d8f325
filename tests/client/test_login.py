"""`kosha login`, profiles, the cached session, and what happens when nobody is signed in."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx

from .cli_helpers import Cli, new_key


def _signed_out(cli: Cli) -> Cli:
    return Cli(cli.home, {"KOSHA_ENDPOINT": cli.env["KOSHA_ENDPOINT"]})


def _login(cli: Cli, *extra: str) -> Any:
    plain = _signed_out(cli)
    return plain("login", "--access-key", cli.env["KOSHA_ACCESS_KEY"], "--secret-key-stdin",
                 *extra, input=cli.env["KOSHA_SECRET_KEY"] + "\n")


def test_login_writes_a_private_config_and_never_prints_the_secret(cli: Cli) -> None:
    result = _login(cli)
    assert result.code == 0, result.err
    secret = cli.env["KOSHA_SECRET_KEY"]
    assert secret not in result.out and secret not in result.err
    assert stat.S_IMODE(cli.config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_file.parent.stat().st_mode) == 0o700
    profile = json.loads(cli.config_file.read_text())["profiles"]["default"]
    assert profile["access_key"] == cli.env["KOSHA_ACCESS_KEY"]
    assert profile["session"]["sessionToken"]


def test_a_saved_profile_is_enough_to_run_commands(cli: Cli, bucket: str) -> None:
    assert _login(cli).code == 0
    plain = Cli(cli.home)   # no KOSHA_* variables at all
    result = plain("ls")
    assert result.code == 0, result.err
    assert bucket in result.out.split()


def test_commands_reuse_the_cached_session(cli: Cli, bucket: str) -> None:
    assert _login(cli).code == 0
    before = json.loads(cli.config_file.read_text())["profiles"]["default"]["session"]
    assert Cli(cli.home)("ls").code == 0
    assert Cli(cli.home)("ls").code == 0
    after = json.loads(cli.config_file.read_text())["profiles"]["default"]["session"]
    assert after["sessionToken"] == before["sessionToken"]


def test_a_session_ended_elsewhere_is_replaced(cli: Cli, bucket: str, server: Any) -> None:
    assert _login(cli).code == 0
    server.activate(cli.env["KOSHA_ACCESS_KEY"], cli.env["KOSHA_SECRET_KEY"])  # ends the cached one
    result = Cli(cli.home)("ls")
    assert result.code == 0, result.err
    assert bucket in result.out.split()


def test_named_profiles_are_kept_apart(cli: Cli) -> None:
    assert _login(cli, "--profile", "work").code == 0
    profiles = json.loads(cli.config_file.read_text())["profiles"]
    assert list(profiles) == ["work"]
    assert Cli(cli.home)("ls").code == 4
    assert Cli(cli.home, {"KOSHA_PROFILE": "work"})("ls").code == 0
    assert Cli(cli.home)("ls", "--profile", "work").code == 0


def test_login_again_reuses_the_profiles_endpoint_and_key(cli: Cli) -> None:
    assert _login(cli).code == 0
    again = Cli(cli.home)("login", "--secret-key-stdin", input=cli.env["KOSHA_SECRET_KEY"] + "\n")
    assert again.code == 0, again.err
    assert cli.env["KOSHA_ENDPOINT"] in again.out


def test_logout_ends_the_session_and_forgets_the_profile(cli: Cli, server: Any) -> None:
    assert _login(cli).code == 0
    token = json.loads(cli.config_file.read_text())["profiles"]["default"]["session"]["sessionToken"]
    assert Cli(cli.home)("logout").code == 0
    assert json.loads(cli.config_file.read_text())["profiles"] == {}
    status = httpx.get(f"{server.kos_url}/kos/v1/sessions/status/{token}")
    assert status.status_code == 404 or status.json()["isActive"] is False
    assert Cli(cli.home)("ls").code == 4


def test_a_wrong_secret_is_refused_with_exit_4_and_nothing_saved(cli: Cli) -> None:
    plain = _signed_out(cli)
    result = plain("login", "--access-key", cli.env["KOSHA_ACCESS_KEY"], "--secret-key-stdin",
                   input="not-the-secret\n")
    assert result.code == 4
    assert result.err.startswith("kosha: ") and result.err.count("\n") == 1
    assert not cli.config_file.exists()


def test_environment_credentials_need_no_config_file(cli: Cli, bucket: str) -> None:
    result = cli("ls")
    assert result.code == 0, result.err
    assert bucket in result.out.split()
    assert not cli.config_file.exists()
    sessions = list((cli.home / "cache" / "kosha" / "sessions").iterdir())
    assert [stat.S_IMODE(p.stat().st_mode) for p in sessions] == [0o600]


def test_not_signed_in_says_how_to_sign_in(tmp_path: Path) -> None:
    result = Cli(tmp_path)("ls")
    assert result.code == 4
    assert "kosha login" in result.err and result.err.count("\n") == 1


def test_an_unreachable_endpoint_is_a_failure_that_names_it(cli: Cli) -> None:
    result = cli("ls", KOSHA_ENDPOINT="http://127.0.0.1:9")
    assert result.code == 1
    assert "cannot reach http://127.0.0.1:9" in result.err


def test_a_session_near_its_end_is_refreshed_not_replaced(start_server: Any, tmp_path: Path) -> None:
    short = start_server("--session-lifetime", "300")   # within the client's refresh window
    root = short.operator()
    user = short.new_user(root, short.new_account(root), admin=True)
    access_key, secret_key = new_key(user)
    cli = Cli(tmp_path, {"KOSHA_ENDPOINT": short.kos_url, "KOSHA_ACCESS_KEY": access_key,
                         "KOSHA_SECRET_KEY": secret_key})
    assert _login(cli).code == 0
    before = json.loads(cli.config_file.read_text())["profiles"]["default"]["session"]
    created = httpx.get(f"{short.kos_url}/kos/v1/sessions/status/{before['sessionToken']}").json()
    assert Cli(tmp_path)("ls").code == 0
    after = json.loads(cli.config_file.read_text())["profiles"]["default"]["session"]
    assert after["sessionToken"] != before["sessionToken"]
    status = httpx.get(f"{short.kos_url}/kos/v1/sessions/status/{after['sessionToken']}").json()
    assert status["createdAt"] == created["createdAt"]
