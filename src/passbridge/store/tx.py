"""`Tx`: the one thing every query and service receives to reach the database.

A Tx is one transaction on one pooled connection (store/db.py's `Database.transaction` opens it; store/
runner.py decides where the work runs). Queries written as Core statements run on it directly, which is
what the hot paths do: no Session, no identity map, no ORM loading. Work that wants the ORM (creating a
user with its relations, loading a row to change it) uses `tx.session`, a Session made on first use and
joined to the same transaction, so ORM and Core work in one Tx commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from passbridge.store.models import Base


class Tx:
    __slots__ = ("_connection", "_open", "_session")

    def __init__(
        self, connection: Connection | None = None, *, opener: Callable[[], Connection] | None = None
    ):
        """On `connection`, or on the one `opener` opens at the first statement: a transaction that has
        run nothing holds no connection and, on SQLite, no write lock."""
        self._connection = connection
        self._open = opener
        self._session: Session | None = None

    @property
    def opened(self) -> Connection | None:
        """The connection, if the transaction has one yet."""
        return self._connection

    def _raw(self) -> Connection:
        if self._connection is None:
            assert self._open is not None, "a Tx has a connection or a way to open one"
            self._connection = self._open()
        return self._connection

    @property
    def session(self) -> Session:
        """An ORM Session in this transaction. It never commits on its own: `Database.transaction`
        flushes it and commits the connection when the block ends."""
        if self._session is None:
            self._session = Session(
                bind=self._raw(), expire_on_commit=False, join_transaction_mode="rollback_only"
            )
        return self._session

    def connection(self) -> Connection:
        """The transaction's connection, for Core statements. The ORM's pending changes are flushed
        first, so a statement sees what this transaction has done so far."""
        if self._session is not None and (self._session.new or self._session.dirty or self._session.deleted):
            self._session.flush()
        return self._raw()

    def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self.connection().execute(statement, parameters)

    def scalar(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        return self.connection().scalar(statement, parameters)

    def insert(self, row: Base) -> None:
        """Insert a new, transient ORM object's column values with one Core INSERT, leaving the object
        detached (callers keep reading its attributes; nothing flushes it later). For hot paths that only
        create rows: the ORM's flush costs several times the statement."""
        table: Table = row.__table__  # type: ignore[assignment]
        values = {column.key: getattr(row, column.key) for column in table.columns}
        self.connection().execute(insert(table), [values])

    @property
    def dialect(self) -> str:
        return self._raw().dialect.name

    def release(self, *, keep: bool) -> None:
        """End the ORM's part: flush what it holds when the transaction is to commit (`keep`), then let
        its objects go (they stay readable, detached). Called by `Database.transaction` only."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if keep:
                session.flush()
        finally:
            session.close()
