"""PostgreSQL target: each event inserted as a row of a table, or sent with NOTIFY on a channel.

    postgresql://user[:password]@host:5432/db?table=kosha_events     (schema.table allowed)
    postgresql://user@host:5432/db?channel=kosha_events
    (other query parameters, e.g. sslmode, go to libpq unchanged)

`table`: the target creates the table when it is missing, with columns `id` (bigserial, the
arrival order), `sequence`, `bucket`, `key`, `event_name`, `body` (jsonb, the AWS event message)
and `delivered_at`; a batch is inserted in one transaction. `channel`: one `pg_notify` per event
in one transaction, so listeners get the batch at commit, in order. PostgreSQL refuses a NOTIFY
payload of 8,000 bytes or more; an event message that long (possible only for very long keys,
which are URL-encoded in it) cannot be delivered on a channel and stays in the outbox as a failure:
use a table for such buckets.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from kosha.notify.targets.base import Delivery
from kosha.notify.targets.connected import CONNECT_TIMEOUT, ConnectedTarget
from kosha.notify.targets.options import TargetUrl, parse

NOTIFY_PAYLOAD_MAX = 7999
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def make(id: str, url: str) -> PostgresqlTarget:
    parsed = parse(url, default_port=5432)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL target URL scheme: {parsed.scheme}")
    table, channel = parsed.options.get("table", ""), parsed.options.get("channel", "")
    if bool(table) == bool(channel):
        raise ValueError("postgresql target needs exactly one of ?table=NAME or ?channel=NAME")
    names = table.split(".") if table else [channel]
    if len(names) > 2 or not all(_IDENTIFIER.match(n) for n in names):
        raise ValueError("postgresql target: table/channel must be an identifier (letters, digits, _)")
    return PostgresqlTarget(id, parsed, _libpq_url(url), names if table else None, channel or None)


def _libpq_url(url: str) -> str:
    """The URL without Kosha's own options, which libpq would refuse as unknown parameters."""
    parts = urlsplit(url)
    rest = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("table", "channel")]
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))


class PostgresqlTarget(ConnectedTarget):
    kind = "postgresql"

    def __init__(self, id: str, url: TargetUrl, conninfo: str, table: list[str] | None,
                 channel: str | None) -> None:
        super().__init__(id, url)
        self._conninfo = conninfo
        self.table = sql.Identifier(*table) if table else None
        self.channel = channel
        self._conn: psycopg.AsyncConnection | None = None
        self._table_ready = False

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            await self._drop()
            extra: dict[str, object] = {}
            if "application_name" not in self._conninfo:
                extra["application_name"] = f"kosha-notify-{self.id}"[:63]
            if "connect_timeout" not in self._conninfo:
                extra["connect_timeout"] = int(CONNECT_TIMEOUT)
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **extra)
            self._table_ready = False
        return self._conn

    async def _deliver(self, batch: list[Delivery]) -> None:
        conn = await self._connection()
        if self.channel is not None:
            for delivery in batch:
                if len(delivery.body) > NOTIFY_PAYLOAD_MAX:
                    raise ValueError(
                        f"event {delivery.sequence} is {len(delivery.body)} bytes, over PostgreSQL's "
                        "NOTIFY payload limit (8000): deliver this bucket to a table instead"
                    )
            async with conn.transaction():
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "SELECT pg_notify(%s, %s)",
                        [(self.channel, d.body.decode()) for d in batch],
                    )
            return
        if not self._table_ready:
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, sequence bigint NOT NULL,"
                    " bucket text NOT NULL, key text NOT NULL, event_name text NOT NULL,"
                    " body jsonb NOT NULL, delivered_at timestamptz NOT NULL DEFAULT now())"
                ).format(self.table)
            )
            self._table_ready = True
        async with conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(
                    sql.SQL(
                        "INSERT INTO {} (sequence, bucket, key, event_name, body)"
                        " VALUES (%s, %s, %s, %s, %s::jsonb)"
                    ).format(self.table),
                    [(d.sequence, d.bucket, d.key, d.event_name, d.body.decode()) for d in batch],
                )

    def _connected(self) -> bool:
        return self._conn is not None

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass
