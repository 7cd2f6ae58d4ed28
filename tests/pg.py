"""The test PostgreSQL server: PASSBRIDGE_TEST_PG_URL, which scripts/test (and so .ci/run) sets after
starting the machine's server with pg_ctlcluster. Each test that uses it gets a schema of its own:
empty (`fresh_schema`) or migrated (`migrated_schema`, a replay of one migration run)."""

from __future__ import annotations

import os
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from passbridge.store.db import Database

PG_URL = os.environ.get("PASSBRIDGE_TEST_PG_URL")


def require_pg() -> str:
    """PASSBRIDGE_TEST_PG_URL, or skip the test saying why."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set PASSBRIDGE_TEST_PG_URL (scripts/test does)")
    return PG_URL


@cache
def _admin() -> Engine:
    # One engine per process: a new one per test would pay the password exchange each time.
    return create_engine(require_pg(), pool_pre_ping=True)


def schema_url(schema: str) -> str:
    """The test server's URL with connections working in `schema` (their search_path)."""
    pg_url = require_pg()
    separator = "&" if "?" in pg_url else "?"
    return f"{pg_url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def _new_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin().begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with _admin().begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A database URL whose connections work in a new, empty schema (their search_path), dropped with
    everything in it afterwards. Skips the test when no PostgreSQL is configured."""
    require_pg()
    with _new_schema() as schema:
        yield schema_url(schema)


@dataclass(frozen=True)
class Migration:
    """What migrating an empty schema to head sent to the server, less its reads: replayed in a new
    empty schema, it leaves the same tables, indexes, constraints and rows (tests/unit/test_test_stores.py
    checks). Recorded once per test process: running Alembic per test cost about twice the replay, in
    Python (script loading, reflection, compiling the DDL) more than in the server."""

    statements: tuple[tuple[str, Any], ...]


def _reads(statement: str) -> bool:
    # A migration that changed something through a SELECT (setval, a function) would need recording too.
    return statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "SHOW")


@contextmanager
def recorded_migration() -> Iterator[Migration]:
    """Migrate an empty schema to head once, recording every statement that changed it."""
    sent: list[tuple[str, Any]] = []
    with fresh_schema() as url:
        db = Database(url)

        @event.listens_for(db.engine, "before_cursor_execute")
        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
            assert not many, "a migration sent executemany; replay it row by row before relying on it"
            if not _reads(statement):
                sent.append((statement, parameters or None))

        try:
            db.upgrade()
        finally:
            db.dispose()
    yield Migration(tuple(sent))


def _replay(migration: Migration) -> str:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with _admin().begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        for statement, parameters in migration.statements:
            conn.exec_driver_sql(statement, parameters)
    return schema


def _drop(schema: str) -> None:
    with _admin().begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


class SchemaSupply:
    """Migrated schemas made, and used ones dropped, by a thread of their own, so that the server does
    that work on the other core while a test runs instead of the test waiting for it. Each schema serves
    one test only."""

    def __init__(self, migration: Migration) -> None:
        self._migration = migration
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        # ("make", None) readies the next schema, ("drop", name) drops a used one, None stops.
        self._jobs: queue.Queue[tuple[str, str | None] | None] = queue.Queue()
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._work, name="schema-supply", daemon=True)
        self._thread.start()
        self._jobs.put(("make", None))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, schema = job
            try:
                if kind == "make":
                    self._ready.put(_replay(self._migration))
                elif schema is not None:
                    _drop(schema)
            except BaseException as exc:
                # A failed make surfaces in the test that takes it; a failed drop when the supply closes.
                (self._ready.put if kind == "make" else self._failures.append)(exc)

    def take(self) -> str:
        got = self._ready.get(timeout=600)
        self._jobs.put(("make", None))
        if isinstance(got, BaseException):
            raise got
        return got

    def give_back(self, schema: str) -> None:
        self._jobs.put(("drop", schema))

    def close(self) -> None:
        """Drop the used schemas and the one still ready; raises what went wrong in the thread."""
        self._jobs.put(None)
        self._thread.join()
        while not self._ready.empty():
            left = self._ready.get()
            if isinstance(left, str):
                _drop(left)
        if self._failures:
            raise self._failures[0]


@contextmanager
def migrated_schema(supply: SchemaSupply) -> Iterator[str]:
    """A database URL like `fresh_schema()`'s whose schema already holds what the supply's migration
    recorded; the schema is dropped afterwards."""
    require_pg()
    schema = supply.take()
    try:
        yield schema_url(schema)
    finally:
        supply.give_back(schema)
