"""store/db.py: Session-less reads (`Database.reading`) and SQLite's BEGIN sent from the begin listener."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from passbridge.store.db import Database
from passbridge.store.tx import Tx


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield database
    database.dispose()


def _count(tx: Tx) -> int:
    return int(tx.execute(text("SELECT count(*) FROM t")).scalar_one())


def _insert_elsewhere(db: Database) -> None:
    with db.engine.begin() as other:
        other.execute(text("INSERT INTO t VALUES (1)"))


def test_reading_in_a_transaction_sees_one_snapshot(db: Database) -> None:
    with db.transaction("read") as tx:
        before = _count(tx)
        _insert_elsewhere(db)
        assert _count(tx) == before == 0


def test_reading_without_a_transaction_sees_each_statement_afresh(db: Database) -> None:
    with db.transaction("autocommit") as tx:
        assert _count(tx) == 0
        _insert_elsewhere(db)
        assert _count(tx) == 1


def test_reading_takes_no_write_lock(db: Database) -> None:
    with db.transaction("read") as tx:
        _count(tx)
        _insert_elsewhere(db)  # would wait for the busy timeout if the read held the write lock


def test_a_failing_begin_surfaces_as_sqlalchemys_error(db: Database, tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with db.engine.connect() as connection:
            connection.connection.driver_connection.execute("PRAGMA busy_timeout=10")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="database is locked"):
                connection.begin()
    finally:
        holder.rollback()
        holder.close()


def test_a_reader_without_a_transaction_keeps_its_connection_per_thread_and_sees_new_writes(
    db: Database,
) -> None:
    with db.transaction("autocommit") as first:
        assert _count(first) == 0
    _insert_elsewhere(db)
    with db.transaction("autocommit") as again:
        assert again.connection() is first.connection()  # no pool checkout per block on SQLite
        assert _count(again) == 1  # autocommit: every statement sees what was committed before it
    assert not again.connection().in_transaction()  # ended with the block: the next one starts clean


def test_a_reader_that_raises_gives_up_its_kept_connection(db: Database) -> None:
    with pytest.raises(OperationalError), db.transaction("autocommit") as broken:
        broken.execute(text("SELECT * FROM no_such_table"))
    with db.transaction("autocommit") as fresh:
        assert fresh.connection() is not broken.connection() and _count(fresh) == 0


def test_nested_readers_share_one_connection_and_threads_do_not(db: Database) -> None:
    import threading

    with db.transaction("autocommit") as outer, db.transaction("autocommit") as inner:
        assert inner.connection() is outer.connection()
        seen: list[Connection] = []

        def other_thread() -> None:
            with db.transaction("autocommit") as mine:
                seen.append(mine.connection())

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert seen and seen[0] is not outer.connection()
