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
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, insert, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

# What a read-only store function runs on: a unit of work's Session (its transaction's connection)
# or a bare Connection from `Database.reading`, which skips the Session's own bookkeeping.
Reader = Session | Connection
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
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(sqlite_begin="BEGIN")
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        # pysqlite's AUTOCOMMIT would reset its isolation_level on return and undo the recipe in
        # _configure_sqlite, so SQLite skips the BEGIN through the listener instead.
        self._statement_engine = (
            self.engine.execution_options(sqlite_begin="")
            if self.dialect == "sqlite"
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        # Per-thread connections of `reading(transaction=False)` on SQLite, and all of them for dispose.
        self._kept = threading.local()
        self._kept_lock = threading.Lock()
        self._kept_all: list[Connection] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        factory = self._read_sessions if readonly else self._sessions
        with factory() as session, session.begin():
            yield session

    @contextmanager
    def reading(self, *, transaction: bool = True) -> Iterator[Connection]:
        """A pooled connection for Core selects only, for hot read paths: no Session, no identity map,
        no ORM loading. With `transaction` its selects share one read transaction (deferred on SQLite,
        so it takes no write lock), rolled back when the block ends. Without, each select stands alone
        (no BEGIN round): for callers whose selects need not agree with each other.

        On SQLite, a reader without a transaction keeps its connection per thread instead of checking
        one out of the pool each time: the checkout and return (events, reset) cost more than the
        token endpoint's client lookup. Each statement still stands alone in autocommit mode, so it
        sees every committed write; a block that raises drops the connection, so no state survives."""
        if transaction or self.dialect != "sqlite":
            engine = self._read_engine if transaction else self._statement_engine
            with engine.connect() as connection:
                yield connection
            return
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

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A pooled connection in one write transaction, for hot units of Core statements that need no
        Session (the refresh-token grant): begun at once (`BEGIN IMMEDIATE` on SQLite, as a writing
        unit of work), committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as connection:
            yield connection

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


def connection_of(reader: Reader) -> Connection:
    """The connection a Core select runs on. A Session's pending ORM changes are flushed first, so a
    read inside a unit of work sees what the unit has done so far."""
    if isinstance(reader, Session):
        reader.flush()
        return reader.connection()
    return reader


def insert_row(session: Session, row: Any) -> None:
    """Insert a new, transient ORM object's column values with one Core INSERT on the unit's
    connection, leaving the object detached (callers keep reading its attributes; nothing flushes it
    later). For hot paths that only create rows: the ORM's flush costs several times the statement."""
    table = row.__table__
    values = {column.key: getattr(row, column.key) for column in table.columns}
    session.connection().execute(insert(table), [values])
