"""Prebuilt selects run on the driver's own cursor, for the hottest reads (and `PreparedWrite`, writes).

SQLAlchemy's Core execute builds an execution context, a cursor result and its row processors on every
call: about half of a Graph methods read's database time on this hardware (bench/README.md), more than
SQLite's own work. A `PreparedSelect` compiles its statement once per dialect, keeps the bind and
result processors SQLAlchemy would apply (so values come back as the same Python types: datetimes,
booleans, decoded JSON), and runs the SQL on the DBAPI cursor of the caller's connection, inside
whatever transaction that connection is in. Driver errors are raised as SQLAlchemy's, like every other
statement's. Only for selects whose columns are all labelled: each row comes back as the NamedTuple the
caller names, whose fields are those labels.

Relies on SQLAlchemy 2.1's compiled internals (`Compiled.binds`, `bind_names`, `positiontup`,
`escaped_bind_names`, the types' `bind_processor`/`result_processor`, `DBAPIError.instance`). Off
(PASSBRIDGE_FASTPATH=0, or another SQLAlchemy), the same statements run through `Connection.execute`
and SQLAlchemy's rows are made into the same NamedTuples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Insert, Select, Update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, InvalidRequestError

from passbridge import fastpath
from passbridge.store.tx import Tx

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


_REQUIRED = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # (name, bind processor, fixed value or _REQUIRED), in the driver's order for qmark/format drivers
    # (a bind used twice appears twice), else one per bind.
    order: tuple[tuple[str, Processor, Any], ...]
    positional: bool

    @classmethod
    def of(cls, statement: Any, dialect: Dialect) -> _Compiled:
        # An INSERT without values compiles every column as a required bind named by its key.
        compiled = statement.compile(dialect=dialect)
        if compiled.escaped_bind_names or any(bind.expanding for bind in compiled.binds.values()):
            raise ValueError("prepared statements take plain binds only (no IN lists, no escaped names)")
        binds = {
            compiled.bind_names[bind]: (
                bind.type.dialect_impl(dialect).bind_processor(dialect),
                _REQUIRED if bind.required else bind.effective_value,
            )
            for bind in compiled.binds.values()
        }
        names = compiled.positiontup if compiled.positional else binds
        return cls(compiled.string, tuple((n, *binds[n]) for n in names), bool(compiled.positional))

    def arguments(self, values: Mapping[str, Any]) -> Any:
        """What `Compiled.construct_params` and the bind processors make of `values`, built directly:
        construct_params alone cost more than SQLite's work for a refresh grant's INSERT."""
        processed = []
        for name, process, fixed in self.order:
            value = values.get(name, fixed)
            if value is _REQUIRED:
                raise InvalidRequestError(f"A value is required for bind parameter {name!r}")
            processed.append(process(value) if process is not None else value)
        if self.positional:
            return tuple(processed)
        return {name: value for (name, _, _), value in zip(self.order, processed, strict=True)}

    def execute(self, connection: Connection, values: Mapping[str, Any], fetch: Callable[[Any], T]) -> T:
        """Run on the connection's DBAPI cursor; `fetch(cursor)` reads what the caller needs."""
        dialect = connection.dialect
        arguments = self.arguments(values)
        dbapi = connection.connection.driver_connection
        try:
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(self.sql, arguments)
                return fetch(cursor)
            finally:
                cursor.close()
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(self.sql, arguments, exc, dialect.loaded_dbapi.Error) from exc


class _Prepared:
    """A statement compiled once per dialect (a server serves one; tests use both)."""

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled.of(self._statement, dialect)
        return found


R = TypeVar("R", bound=NamedTuple)


class PreparedSelect(_Prepared, Generic[R]):
    """A select whose rows come back as `row`, a NamedTuple named for the select's labels, field for field
    (checked here, once): a typed row at the cost of a plain tuple."""

    def __init__(self, statement: Select[*tuple[Any, ...]], row: type[R]) -> None:
        super().__init__(statement)
        labels = tuple(statement.selected_columns.keys())
        if labels != row._fields:
            raise TypeError(f"{row.__name__} has fields {row._fields}; the select gives {labels}")
        self._make: Callable[[Iterable[Any]], R] = row._make
        self._processors: dict[str, tuple[Processor, ...]] = {}

    def _results(self, connection: Connection) -> tuple[Processor, ...]:
        dialect = connection.dialect
        found = self._processors.get(dialect.name)
        if found is None:
            found = self._processors[dialect.name] = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self._statement.selected_columns
            )
        return found

    def _run(self, tx: Tx, values: Mapping[str, Any], *, first: bool) -> list[R]:
        connection = tx.connection()
        make = self._make
        if not fastpath.active("prepared"):
            result = connection.execute(self._statement, dict(values))
            if first:
                row = result.first()
                return [] if row is None else [make(row)]
            return [make(row) for row in result.all()]
        prepared = self._for(connection.dialect)
        results = self._results(connection)
        rows = prepared.execute(
            connection, values, lambda cursor: [cursor.fetchone()] if first else cursor.fetchall()
        )
        return [
            make([process(value) if process else value for process, value in zip(results, row, strict=True)])
            for row in rows
            if row is not None
        ]

    def first(self, tx: Tx, **values: Any) -> R | None:
        """The first row, or None."""
        rows = self._run(tx, values, first=True)
        return rows[0] if rows else None

    def all(self, tx: Tx, **values: Any) -> list[R]:
        return self._run(tx, values, first=False)


class PreparedWrite(_Prepared):
    """An INSERT or UPDATE run the same way on the driver's cursor, for the hottest writes (the refresh
    grant's rotation and new token: tokens/oidc_queries.py). Returns the driver's rowcount, so a conditional
    UPDATE still tells whether it won. It runs inside the transaction the caller's connection has
    begun, and refuses a connection without one: on SQLite (whose driver is told not to begin
    transactions itself, store/db.py) the write would otherwise commit on its own."""

    def __init__(self, statement: Insert | Update) -> None:
        super().__init__(statement)

    def run(self, tx: Tx, **values: Any) -> int:
        connection = tx.connection()
        if not connection.in_transaction():
            raise RuntimeError("a prepared write needs a connection inside a transaction")
        if not fastpath.active("prepared"):
            # SQLAlchemy keeps an INSERT's rowcount only when asked to.
            options = {"preserve_rowcount": True}
            return int(connection.execute(self._statement, dict(values), execution_options=options).rowcount)
        return self._for(connection.dialect).execute(connection, values, lambda cursor: int(cursor.rowcount))
