"""SQLite's writer on the event loop: the connection store/runner.py's `write` runs small units on.

Writes normally go to the threadpool, because a SQLite writer may wait for the write lock and that wait
must not stall the event loop. On one core, though, the hop and the GIL handoffs between the loop and a
dozen writer threads around every SQLite call cost more than a whole refresh grant (bench/README.md).
So a unit runs on the loop once it can take the lock, and nothing it does can wait:

- The loop's connection has busy_timeout 0, so `writing_if_free`'s `BEGIN IMMEDIATE` fails at once if
  another connection holds the lock: it yields None. runner.py's `write` then awaits and tries again, so
  the loop serves other requests meanwhile (an asynchronous busy handler). Once the lock is held,
  nothing in a WAL-mode unit waits for another connection: reads take no lock and COMMIT needs none
  beyond the one held (so the timeout stays 0: setting it around each BEGIN cost two statements per
  grant). The unit itself must hold no await (it is a plain function).
- A commit may also run SQLite's automatic WAL checkpoint (every ~1,000 written pages), whose fsyncs can
  take milliseconds. The loop's connection has it switched off; every CHECKPOINT_EVERY commits a daemon
  thread checkpoints instead (the other connections keep checkpointing as usual), so the same work is
  done off the loop, and the WAL is started over once copied to its end (see _checkpoint).
- One dedicated connection per store serves the loop (its thread runs one unit at a time), so a unit pays
  no pool checkout and no PRAGMAs. Should it ever be used from two threads at once (two event loops on
  one store), the second caller gets None and tries again. A unit that fails closes the connection for
  good: the next unit opens a fresh one.

Durability is unchanged: the same WAL, `synchronous=NORMAL` and the same commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from passbridge.store.db import BUSY_TIMEOUT_MS, Database

# About SQLite's own threshold of 1,000 pages for a refresh grant's ~8 written pages.
CHECKPOINT_EVERY = 125
# How long the checkpoint's second step waits for the write lock; busy, it gives up until the next
# checkpoint. The pooled connection's own timeout is restored before it goes back.
HOLD_WAIT_MS = 200


class _Writer:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.in_use = threading.Lock()
        self.connection: Connection | None = None
        self.commits = 0
        self.checkpointing = threading.Lock()

    def open(self) -> Connection:
        if self.connection is None:
            # "" tells store/db.py's begin listener to send no BEGIN: begin_now sends its own.
            connection = self.engine.connect().execution_options(sqlite_begin="")
            driver = self._driver(connection)
            driver.execute("PRAGMA wal_autocheckpoint=0")
            driver.execute("PRAGMA busy_timeout=0")
            self.connection = connection
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            # Closed for real, not returned to the pool: it has the autocheckpoint and busy_timeout off.
            self.connection.invalidate()
            self.connection.close()
            self.connection = None

    @staticmethod
    def _driver(connection: Connection) -> Any:
        return connection.connection.driver_connection

    def begin_now(self, connection: Connection) -> bool:
        """BEGIN IMMEDIATE without waiting; False, with nothing begun, when another holds the lock."""
        try:
            self._driver(connection).execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY:
                return False
            raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc
        connection.begin()  # SQLAlchemy's side of it; COMMIT and ROLLBACK go through SQLAlchemy
        return True

    def committed(self) -> None:
        self.commits += 1
        if self.commits >= CHECKPOINT_EVERY and self.checkpointing.acquire(blocking=False):
            self.commits = 0
            threading.Thread(target=self._checkpoint, name="passbridge-checkpoint", daemon=True).start()

    def _checkpoint(self) -> None:
        try:
            with self.engine.connect() as copier, self.engine.connect() as holder:
                copy, hold = self._driver(copier), self._driver(holder)
                # The bulk of the copying, while writers go on appending.
                copy.execute("PRAGMA wal_checkpoint(PASSIVE)")
                # Then the frames appended meanwhile, with the write lock held so that none are added:
                # a WAL copied to its end is started over by the next writer. Under a steady stream
                # of writes PASSIVE alone never reaches the end, and the WAL grew without bound (466 MB
                # in one 25-second bench run). The lock is held for a few pages and the fsyncs; the
                # loop's units of that moment wait for it in runner.py's `write`.
                hold.execute(f"PRAGMA busy_timeout={HOLD_WAIT_MS}")
                try:
                    hold.execute("BEGIN IMMEDIATE")
                    try:
                        copy.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    finally:
                        hold.execute("ROLLBACK")
                finally:
                    hold.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except Exception:  # noqa: S110 - busy: the next checkpoint, or another connection's, catches up
            pass
        finally:
            self.checkpointing.release()


_writers: WeakKeyDictionary[Database, _Writer] = WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(db: Database) -> _Writer:
    writer = _writers.get(db)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(db, _Writer(db.engine))
    return writer


@contextmanager
def writing_if_free(db: Database) -> Iterator[Connection | None]:
    """A connection in a write transaction begun this instant, committed when the block ends and
    rolled back if it raises; None (runner.py's `write` tries again, or goes off the loop) when the
    store is not SQLite, another connection holds the write lock, or the loop's connection is busy
    elsewhere."""
    if db.dialect != "sqlite":
        yield None
        return
    writer = _writer(db)
    if not writer.in_use.acquire(blocking=False):
        yield None
        return
    try:
        try:
            connection = writer.open()
            began = writer.begin_now(connection)
        except BaseException:
            writer.close()
            raise
        if not began:
            yield None
            return
        try:
            yield connection
            connection.commit()
        except BaseException:
            writer.close()  # rolls back what the unit did, and the next unit starts afresh
            raise
        writer.committed()
    finally:
        writer.in_use.release()
