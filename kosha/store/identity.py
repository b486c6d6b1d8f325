"""SQL for identity: accounts, users, access keys, sessions, policies and their attachments.

Plain functions taking a SQLAlchemy Core connection, run by `Database.read`/`Database.write` in a
thread; the services in `kosha.services` never write SQL themselves. Rows are returned as
SQLAlchemy `Row`s (read with `row.column` or `row._mapping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from . import locks
from .schema import access_keys, accounts, policies, policy_attachments, sessions, users

# -- accounts -------------------------------------------------------------------------------


def insert_account(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    conn.execute(insert(accounts).values(**values))
    return get_account(conn, values["account_id"])  # type: ignore[return-value]


def get_account(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(select(accounts).where(accounts.c.account_id == account_id)).first()


def list_accounts(conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(select(accounts).order_by(accounts.c.created_at, accounts.c.account_id)).all()


def set_mfa_secret(conn: Connection, account_id: str, secret: str | None) -> bool:
    result = conn.execute(update(accounts).where(accounts.c.account_id == account_id)
                          .values(mfa_secret=secret))
    return result.rowcount > 0


def operator_exists(conn: Connection) -> bool:
    return conn.execute(select(users.c.kcid).where(users.c.is_operator).limit(1)).first() is not None


def create_operator(conn: Connection, account: dict[str, Any], user: dict[str, Any],
                    key: dict[str, Any]) -> bool:
    """The operator's account, user and key, unless another process created them first: the
    check and the inserts run under one lock (PostgreSQL; SQLite's writer holds the file), so
    processes starting together on an empty database make exactly one operator."""
    locks.lock_bootstrap(conn)
    if operator_exists(conn):
        return False
    insert_account(conn, account)
    create_user_with_key(conn, user, key)
    return True


def deployment_id(conn: Connection) -> str | None:
    """The first operator's kcid: random at bootstrap, so it names this database's deployment."""
    return conn.execute(select(users.c.kcid).where(users.c.is_operator)
                        .order_by(users.c.created_at, users.c.kcid).limit(1)).scalar()


# -- users ----------------------------------------------------------------------------------


def insert_user(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    conn.execute(insert(users).values(**values))
    return get_user(conn, values["kcid"])  # type: ignore[return-value]


def get_user(conn: Connection, kcid: str) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.kcid == kcid)).first()


def list_users(conn: Connection, account_id: str) -> Sequence[Row[Any]]:
    return conn.execute(select(users).where(users.c.account_id == account_id)
                        .order_by(users.c.created_at, users.c.kcid)).all()


def existing_kcids(conn: Connection, kcids: Iterable[str]) -> dict[str, str]:
    """kcid -> account_id for those of `kcids` that exist."""
    rows = conn.execute(select(users.c.kcid, users.c.account_id)
                        .where(users.c.kcid.in_(list(kcids)))).all()
    return {r.kcid: r.account_id for r in rows}


def set_admin(conn: Connection, kcid: str, is_admin: bool, is_operator: bool) -> Row[Any] | None:
    conn.execute(update(users).where(users.c.kcid == kcid)
                 .values(is_admin=is_admin, is_operator=is_operator))
    return get_user(conn, kcid)


def credentials_of(conn: Connection, kcid: str) -> tuple[list[str], list[str]]:
    """A user's access keys and the token hashes of its sessions (to forget cached principals)."""
    keys = [r.access_key for r in conn.execute(
        select(access_keys.c.access_key).where(access_keys.c.kcid == kcid)).all()]
    hashes = [r.token_hash for r in conn.execute(
        select(sessions.c.token_hash).where(sessions.c.kcid == kcid)).all()]
    return keys, hashes


def delete_user(conn: Connection, kcid: str) -> tuple[list[str], list[str]]:
    """A user, its keys, its sessions and its policy attachments; answers the keys and hashes."""
    keys, hashes = credentials_of(conn, kcid)
    delete_access_keys(conn, keys)
    conn.execute(delete(sessions).where(sessions.c.kcid == kcid))
    conn.execute(delete(policy_attachments).where(policy_attachments.c.kcid == kcid))
    conn.execute(delete(users).where(users.c.kcid == kcid))
    return keys, hashes


def policies_by_user(conn: Connection, kcids: Sequence[str]) -> dict[str, list[str]]:
    """kcid -> the KRNs of the policies attached to it."""
    rows = conn.execute(select(policy_attachments).where(policy_attachments.c.kcid.in_(list(kcids)))
                        .order_by(policy_attachments.c.policy_krn)).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.kcid, []).append(r.policy_krn)
    return out


def create_user_with_key(conn: Connection, user: dict[str, Any], key: dict[str, Any]) -> Row[Any]:
    """A user and its first access key, in one transaction (a user is useless without a key)."""
    row = insert_user(conn, user)
    conn.execute(insert(access_keys).values(**key))
    return row


# -- access keys ----------------------------------------------------------------------------

_KEY_WITH_USER = (select(access_keys, users.c.is_admin, users.c.is_operator)
                  .join(users, users.c.kcid == access_keys.c.kcid))


def insert_access_key(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(access_keys).values(**values))


def get_access_key(conn: Connection, access_key: str) -> Row[Any] | None:
    """The key with its user's roles (`is_admin`, `is_operator`), for building a principal."""
    return conn.execute(_KEY_WITH_USER.where(access_keys.c.access_key == access_key)).first()


def list_access_keys(conn: Connection, account_id: str, kcid: str | None = None) -> Sequence[Row[Any]]:
    query = select(access_keys).where(access_keys.c.account_id == account_id)
    if kcid is not None:
        query = query.where(access_keys.c.kcid == kcid)
    return conn.execute(query.order_by(access_keys.c.created_at, access_keys.c.access_key)).all()


def delete_access_keys(conn: Connection, keys: Sequence[str]) -> list[str]:
    """Delete keys and every session opened with them; the deleted sessions' token hashes."""
    if not keys:
        return []
    hashes = [r.token_hash for r in conn.execute(
        select(sessions.c.token_hash).where(sessions.c.access_key.in_(keys))).all()]
    conn.execute(delete(sessions).where(sessions.c.access_key.in_(keys)))
    conn.execute(delete(access_keys).where(access_keys.c.access_key.in_(keys)))
    return hashes


# -- sessions -------------------------------------------------------------------------------

_SESSION_WITH_USER = (select(sessions, users.c.is_admin, users.c.is_operator)
                      .join(users, users.c.kcid == sessions.c.kcid))


def get_session(conn: Connection, token_hash: str) -> Row[Any] | None:
    """The session with its user's roles (`is_admin`, `is_operator`)."""
    return conn.execute(_SESSION_WITH_USER.where(sessions.c.token_hash == token_hash)).first()


def open_session(conn: Connection, values: dict[str, Any]) -> list[str]:
    """Insert a session, ending the key's earlier ones; the token hashes of those it ended.

    Only one active session per key: the previous one is kept, inactive, so that `status` can
    still answer for it; anything older is deleted, so a key never holds more than two rows.
    """
    key = values["access_key"]
    conn.execute(delete(sessions).where(sessions.c.access_key == key, ~sessions.c.active))
    ended = [r.token_hash for r in conn.execute(
        select(sessions.c.token_hash).where(sessions.c.access_key == key)).all()]
    conn.execute(update(sessions).where(sessions.c.access_key == key).values(active=False))
    conn.execute(insert(sessions).values(**values))
    return ended


def rotate_session(conn: Connection, token_hash: str, refresh_hash: str,
                   values: dict[str, Any]) -> bool:
    """Give a session new token hashes and expiry (refresh), if it still has `refresh_hash`."""
    result = conn.execute(update(sessions).where(sessions.c.token_hash == token_hash,
                                                 sessions.c.refresh_hash == refresh_hash,
                                                 sessions.c.active).values(**values))
    return result.rowcount > 0


def end_session(conn: Connection, token_hash: str, now: float) -> bool:
    """End a live session; False when there is none (unknown, already ended, or expired)."""
    result = conn.execute(update(sessions).where(sessions.c.token_hash == token_hash,
                                                 sessions.c.active.is_(True),
                                                 sessions.c.expires_at > now)
                          .values(active=False))
    return result.rowcount > 0


def touch_session(conn: Connection, token_hash: str, when: float) -> None:
    conn.execute(update(sessions).where(sessions.c.token_hash == token_hash)
                 .values(last_active_at=when))


# -- policies -------------------------------------------------------------------------------


def insert_policy(conn: Connection, values: dict[str, Any]) -> Row[Any]:
    conn.execute(insert(policies).values(**values))
    return get_policy(conn, values["policy_krn"])  # type: ignore[return-value]


def get_policy(conn: Connection, ref: str) -> Row[Any] | None:
    """By KRN, or by the bare policy id."""
    column = policies.c.policy_krn if ref.startswith("krn:") else policies.c.policy_id
    return conn.execute(select(policies).where(column == ref)).first()


def list_policies(conn: Connection, account_id: str | None = None,
                  name: str | None = None) -> Sequence[Row[Any]]:
    query = select(policies)
    if account_id is not None:
        query = query.where(policies.c.account_id == account_id)
    if name is not None:
        query = query.where(policies.c.name == name)
    return conn.execute(query.order_by(policies.c.created_at, policies.c.policy_id)).all()


def update_policy(conn: Connection, policy_krn: str, values: dict[str, Any]) -> Row[Any] | None:
    conn.execute(update(policies).where(policies.c.policy_krn == policy_krn).values(**values))
    return get_policy(conn, policy_krn)


def delete_policy(conn: Connection, policy_krn: str) -> list[str]:
    """Delete a policy and its attachments; the kcids it was attached to."""
    kcids = attached_users(conn, [policy_krn]).get(policy_krn, [])
    conn.execute(delete(policy_attachments).where(policy_attachments.c.policy_krn == policy_krn))
    conn.execute(delete(policies).where(policies.c.policy_krn == policy_krn))
    return kcids


def attached_users(conn: Connection, policy_krns: Sequence[str]) -> dict[str, list[str]]:
    rows = conn.execute(select(policy_attachments)
                        .where(policy_attachments.c.policy_krn.in_(list(policy_krns)))
                        .order_by(policy_attachments.c.kcid)).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.policy_krn, []).append(r.kcid)
    return out


def attach(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """(policy_krn, kcid) pairs; pairs already attached are left alone."""
    for krn, kcid in pairs:
        exists = conn.execute(select(func.count()).select_from(policy_attachments).where(
            policy_attachments.c.policy_krn == krn, policy_attachments.c.kcid == kcid)).scalar()
        if not exists:
            conn.execute(insert(policy_attachments).values(policy_krn=krn, kcid=kcid))


def detach(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    for krn, kcid in pairs:
        conn.execute(delete(policy_attachments).where(
            policy_attachments.c.policy_krn == krn, policy_attachments.c.kcid == kcid))


def policies_of_user(conn: Connection, kcid: str) -> Sequence[Any]:
    """The statements, conditions, KRN and name of every policy attached to a user, oldest first."""
    return conn.execute(select(policies.c.statements, policies.c.conditions, policies.c.policy_krn,
                               policies.c.name)
                        .join(policy_attachments,
                              policy_attachments.c.policy_krn == policies.c.policy_krn)
                        .where(policy_attachments.c.kcid == kcid)
                        .order_by(policies.c.created_at, policies.c.policy_krn)).all()
