"""Statements run straight on the DBAPI cursor: the few on the write path of every small PUT.

SQLAlchemy Core adds ~25 us to each execution, against the database's own ~3 us, and a small PUT
runs several statements on the one writer thread, which shares the GIL with the event loop. These
are still Core constructs, compiled once per dialect, so SQLite and PostgreSQL share them; only
statements whose parameters and results are plain values (strings, numbers) may run this way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import Executable


_Compiled = tuple[str, "tuple[str, ...] | None", dict[str, Any]]


class DirectStatement:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = self._compiled[dialect.name] = (compiled.string, order, dict(compiled.params))
        return found

    def run(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Execute in the connection's current transaction; the rows, if it returns any."""
        return self._execute(conn, params)[0]

    def run_tuple(self, conn: Connection, names: tuple[str, ...], values: tuple[Any, ...]
                  ) -> list[tuple[Any, ...]]:
        """Execute with `values` of the parameters `names`; the rows, if it returns any. The
        values go to the driver as they are when its placeholders are positional and in that
        order (SQLite: no parameter dict built per statement), else as `run`."""
        return self._execute_tuple(conn, names, values)[0]

    def run_count(self, conn: Connection, names: tuple[str, ...], values: tuple[Any, ...]) -> int:
        """`run_tuple` for an UPDATE or DELETE; how many rows it changed."""
        return self._execute_tuple(conn, names, values)[1]

    def _execute_tuple(self, conn: Connection, names: tuple[str, ...], values: tuple[Any, ...]
                       ) -> tuple[list[tuple[Any, ...]], int]:
        sql, order, _constants = self._for(conn)
        if order != names:
            return self._execute(conn, dict(zip(names, values)))
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return (cursor.fetchall() if cursor.description else []), cursor.rowcount
        finally:
            cursor.close()

    def run_many(self, conn: Connection, names: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
        """Execute once per row of values of the parameters `names` (an INSERT of many rows),
        in one driver call."""
        sql, order, constants = self._for(conn)
        args: list[Any] = rows
        if order != names:
            args = [_args(order, constants, dict(zip(names, row))) for row in rows]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, args)
        finally:
            cursor.close()

    def count(self, conn: Connection, params: dict[str, Any]) -> int:
        """Execute an UPDATE or DELETE; how many rows it changed."""
        return self._execute(conn, params)[1]

    def _execute(self, conn: Connection, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], int]:
        sql, order, constants = self._for(conn)
        args = _args(order, constants, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            return (list(cursor.fetchall()) if cursor.description else []), cursor.rowcount
        finally:
            cursor.close()


def _args(order: tuple[str, ...] | None, constants: dict[str, Any], params: dict[str, Any]) -> Any:
    """The driver's parameters: a tuple in placeholder order, or a dict when they are named.
    `constants`: literals of the statement (is_latest=False)."""
    values = {**constants, **params}
    return tuple(values[name] for name in order) if order is not None else values
