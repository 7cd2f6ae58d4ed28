"""Engines, units of work and schema migration for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from passbridge.store.tx import Tx

TxKind = Literal["write", "read", "autocommit"]
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_POOL_SIZE = 40


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message is one readable line without credentials."""


# How long a SQLite connection waits for another's lock before failing with "database is locked".
BUSY_TIMEOUT_MS = 30000


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _create_private_sqlite_file(url)
        # One pooled connection per threadpool worker (anyio's default limit is 40): QueuePool's
        # default (5 + 10 overflow) made concurrent requests queue for a connection and opened and
        # closed overflow connections per request, paying the connect PRAGMAs and SQLite's schema
        # parse each time. Connections open lazily, so an idle server holds few.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            json_deserializer=read_json,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _create_private_sqlite_file(url: str) -> None:
    """Create the SQLite file owner-only (0600) before SQLite would create it 0644 under the usual
    umask: it holds every hash, sealed key and log. SQLite gives its -wal and -shm files the database
    file's mode. An existing file keeps the mode its owner gave it."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    # Already there, or no such folder (SQLite says so in its own words when connecting): leave it.
    with suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def read_json(text: str) -> Any:
    """JSON columns as SQLite returns them (text), decoded by orjson: a refresh grant decodes three, and
    json.loads took several times as long. json.loads still reads what orjson would not read the same
    (tests/unit/test_read_json.py): integers beyond 64 bits, which orjson turns into floats (any run
    of 19 digits sends the text there), and the lone surrogate escapes and NaN that json.dumps may have
    stored from a caller's text, which orjson refuses."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; take it over
    # (SQLAlchemy's documented recipe) so a unit of work is one real transaction.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that later writes can
        # fail with "database is locked" without waiting, which busy_timeout cannot help.
        mode = connection.get_execution_options().get("sqlite_begin", "BEGIN IMMEDIATE")
        if not mode:  # "" marks single-statement reads: each statement is its own transaction
            return
        # Straight to the driver: through exec_driver_sql, SQLAlchemy's execution machinery cost more
        # than the statement, on every unit of work. Failures still surface as SQLAlchemy's errors.
        try:
            connection.connection.driver_connection.execute(mode)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(mode, None, exc, sqlite3.Error) from exc


class _KeptConnection:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.depth = 0


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._read_engine = self.engine.execution_options(sqlite_begin="BEGIN")
        # pysqlite's AUTOCOMMIT would reset its isolation_level on return and undo the recipe in
        # _configure_sqlite, so SQLite skips the BEGIN through the listener instead.
        self._statement_engine = (
            self.engine.execution_options(sqlite_begin="")
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # Per-thread connections of `transaction("autocommit")` on SQLite, and all of them for dispose.
        self._kept = threading.local()
        self._kept_lock = threading.Lock()
        self._kept_all: list[Connection] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, kind: TxKind = "write") -> Iterator[Tx]:
        """One transaction, committed when the block ends and rolled back if it raises.

        - "write": begun at once (`BEGIN IMMEDIATE` on SQLite), so a writer waits for the lock up front
          instead of failing half-way.
        - "read": a read transaction whose selects share one snapshot; deferred on SQLite, so it takes
          no write lock and never waits.
        - "autocommit": no transaction; each statement stands alone and sees every committed write (no
          BEGIN round), for hot reads whose selects need not agree with each other. On SQLite its
          connection is kept per thread instead of checked out of the pool each time: the checkout and
          return (events, reset) cost more than the token endpoint's client lookup. A block that raises
          drops the connection, so no state survives."""
        if kind == "autocommit" and self.dialect == "sqlite":
            with self._kept_connection() as connection:
                yield from _run(Tx(connection))
            return
        if kind == "autocommit":
            with self._statement_engine.connect() as connection:
                yield from _run(Tx(connection))
            return
        engine = self.engine if kind == "write" else self._read_engine

        def begin() -> Connection:
            connection = engine.connect()
            try:
                connection.begin()
            except BaseException:
                connection.close()
                raise
            return connection

        tx = Tx(opener=begin)
        try:
            yield tx
            tx.release(keep=True)
            if tx.opened is not None:
                tx.opened.commit()
        except BaseException:
            tx.release(keep=False)
            if tx.opened is not None:
                tx.opened.rollback()
            raise
        finally:
            if tx.opened is not None:
                tx.opened.close()

    @contextmanager
    def _kept_connection(self) -> Iterator[Connection]:
        kept: _KeptConnection | None = getattr(self._kept, "reader", None)
        if kept is None or kept.connection.closed:
            kept = self._kept.reader = _KeptConnection(self._statement_engine.connect())
            with self._kept_lock:
                self._kept_all.append(kept.connection)
        kept.depth += 1
        try:
            yield kept.connection
        except BaseException:
            if kept.depth == 1:
                self._kept.reader = None
                kept.connection.close()
            raise
        finally:
            kept.depth -= 1
        if kept.depth == 0 and kept.connection.in_transaction():
            # A SQLAlchemy execute marks a transaction begun (SQLite itself began none): end it, so
            # the next block starts clean and nobody mistakes this connection for a writing one.
            kept.connection.rollback()

    def dispose(self) -> None:
        with self._kept_lock:
            for connection in self._kept_all:
                connection.close()
            self._kept_all.clear()
        self._kept = threading.local()
        self.engine.dispose()

    # --- schema -----------------------------------------------------------------------------

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def upgrade(self) -> None:
        config = self._alembic_config()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(describe_db_error(exc)) from None

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def schema_revision(self) -> tuple[str | None, str | None]:
        """(current, head); raises DatabaseUnavailable when the database cannot be reached."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                current = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(describe_db_error(exc)) from None
        return current, self.head_revision()

    def check_ready(self) -> str | None:
        """None when reachable and at the head revision, else the reason why not."""
        try:
            current, head = self.schema_revision()
        except DatabaseUnavailable as exc:
            return str(exc)
        if current != head:
            return f"schema at revision {current or 'none'}, expected {head}; run 'passbridge db upgrade'"
        return None


def describe_db_error(exc: BaseException) -> str:
    """A one-line, credential-free description of a database failure."""
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"database unavailable: {first_line}"


@contextmanager
def in_tx(connection: Connection) -> Iterator[Tx]:
    """A Tx on a connection already in a transaction that the caller commits (store/loop_writer.py)."""
    yield from _run(Tx(connection))


def _run(tx: Tx) -> Iterator[Tx]:
    """Yield `tx` to the block; flush its ORM work if the block ends well, drop it if it raises (the
    caller's connection block then commits or rolls back)."""
    try:
        yield tx
    except BaseException:
        tx.release(keep=False)
        raise
    tx.release(keep=True)
