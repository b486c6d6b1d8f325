"""`/kos/v1/account...` (Kosha's extension): who am I, and an admin's own users and policies."""

from __future__ import annotations

from typing import Any

ACCOUNT = "/kos/v1/account"


def test_whoami_describes_an_admin(account: Any) -> None:
    me = account.get(ACCOUNT)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["account_id"] == account.account_id and body["account_name"].startswith("acct-")
    assert (body["kcid"], body["krn"], body["user_name"]) == (account.kcid, account.krn, account.name)
    assert (body["admin"], body["operator"], body["mfa_enabled"]) == (True, False, False)
    assert body["access_key"] == account.access_key


def test_whoami_describes_a_member_and_the_operator(member: Any, root: Any) -> None:
    assert member.get(ACCOUNT).json()["admin"] is False
    operator = root.get(ACCOUNT).json()
    assert operator["operator"] is True and operator["account_id"] == "000000000000"


def test_whoami_needs_credentials(server: Any) -> None:
    with server.http() as anonymous:
        assert anonymous.get(ACCOUNT).status_code == 401
