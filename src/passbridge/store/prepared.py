"""Prebuilt selects run on the driver's own cursor, for the hottest reads (and `PreparedWrite`, writes).

SQLAlchemy's Core execute builds an execution context, a cursor result and its row processors on every
call: about half of a Graph methods read's database time on this hardware (bench/README.md), more than
SQLite's own work. A `PreparedSelect` compiles its statement once per dialect, keeps the bind and
result processors SQLAlchemy would apply (so values come back as the same Python types: datetimes,
booleans, decoded JSON), and runs the SQL on the DBAPI cursor of the caller's connection, inside
whatever transaction that connection is in. Driver errors are raised as SQLAlchemy's, like every other
statement's. Only for selects whose columns are all labelled (each row is a named tuple of them).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from passbridge.store.db import Reader, connection_of

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    statement: Any  # the Compiled, which fills in literal binds and checks required ones
    positional: tuple[str, ...] | None  # parameter names in order, for qmark/format drivers
    binds: Mapping[str, Processor]
    results: tuple[Processor, ...]
    record: Callable[..., Any]


class PreparedSelect:
    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self._statement = statement
        self._labels = tuple(statement.selected_columns.keys())
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            binds = {
                compiled.bind_names[bind]: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for bind in compiled.binds.values()
            }
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self._statement.selected_columns
            )
            positional = tuple(compiled.positiontup or ()) if compiled.positional else None
            record = namedtuple("Record", self._labels)  # type: ignore[misc]
            found = _Compiled(compiled.string, compiled, positional, binds, results, record._make)
            self._compiled[dialect.name] = found
        return found

    def _run(self, reader: Reader, values: Mapping[str, Any], *, first: bool) -> list[Any]:
        connection = connection_of(reader)
        dialect = connection.dialect
        prepared = self._for(dialect)
        params = prepared.statement.construct_params(values)
        for name, process in prepared.binds.items():
            if process is not None:
                params[name] = process(params[name])
        arguments: Any = (
            tuple(params[name] for name in prepared.positional) if prepared.positional is not None else params
        )
        dbapi = connection.connection.driver_connection
        try:
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(prepared.sql, arguments)
                rows = [cursor.fetchone()] if first else cursor.fetchall()
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(prepared.sql, arguments, exc, dialect.loaded_dbapi.Error) from exc
        results = prepared.results
        return [
            prepared.record(
                [process(value) if process else value for process, value in zip(results, row, strict=True)]
            )
            for row in rows
            if row is not None
        ]

    def first(self, reader: Reader, **values: Any) -> Any:
        """The first row as a named tuple of the select's labels, or None."""
        rows = self._run(reader, values, first=True)
        return rows[0] if rows else None

    def all(self, reader: Reader, **values: Any) -> list[Any]:
        return self._run(reader, values, first=False)


class PreparedWrite:
    """An INSERT or UPDATE run the same way on the driver's cursor, for the hottest writes (the refresh
    grant's rotation and new token: store/oidc.py). Returns the driver's rowcount, so a conditional
    UPDATE still tells whether it won. It runs inside the transaction the caller's connection has
    begun, and refuses a connection without one: on SQLite (whose driver is told not to begin
    transactions itself, store/db.py) the write would otherwise commit on its own."""

    def __init__(self, statement: Insert | Update) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, Any, tuple[str, ...] | None, Mapping[str, Processor]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, Any, tuple[str, ...] | None, Mapping[str, Processor]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            # An INSERT without values compiles every column as a bind named by its key.
            compiled = self._statement.compile(dialect=dialect)
            binds = {
                compiled.bind_names[bind]: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for bind in compiled.binds.values()
            }
            positional = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = (compiled.string, compiled, positional, binds)
            self._compiled[dialect.name] = found
        return found

    def run(self, reader: Reader, **values: Any) -> int:
        connection = connection_of(reader)
        if not connection.in_transaction():
            raise RuntimeError("a prepared write needs a connection inside a transaction")
        dialect = connection.dialect
        sql, compiled, positional, binds = self._for(dialect)
        params = compiled.construct_params(values)
        for name, process in binds.items():
            if process is not None:
                params[name] = process(params[name])
        arguments: Any = tuple(params[name] for name in positional) if positional is not None else params
        dbapi = connection.connection.driver_connection
        try:
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, arguments)
                return int(cursor.rowcount)
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error) from exc
