"""Where work called from async code runs: the one place that decides (every edge calls only this).

Three kinds of work, each placed by the store it runs against:
- `read(db, work)`: a read-only unit of a few indexed lookups. On SQLite it runs on the event loop: in
  WAL mode a reader takes no lock a writer holds, so it never waits, and measured on one core the
  threadpool hop and the GIL handoffs around each SQLite call cost more than the unit itself
  (bench/README.md). On PostgreSQL, a network round trip per statement, it goes to the threadpool.
- `write(db, unit)`: a small write unit of Core statements on one connection (the refresh grant). On
  SQLite it runs on the event loop once the write lock is free (store/loop_writer.py: its own
  connection, which never waits for the lock or a checkpoint); while another connection holds the lock
  this awaits and tries again, so the loop serves other requests meanwhile. After as long as a pooled
  connection would wait, or on PostgreSQL, the unit goes to the threadpool in `Database.transaction`, which
  waits and fails as every other writer does.
- `off_loop(work, *args)`: everything else (units of work that write, Argon2 hashes, scans, anything
  that may wait): always the threadpool, so the loop never blocks on it.
`work` and `unit` are plain functions: they hold no await, so nothing they do can stall the loop beyond
what is said above.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from passbridge.store import loop_writer
from passbridge.store.db import BUSY_TIMEOUT_MS, Database, in_tx
from passbridge.store.tx import Tx

T = TypeVar("T")
P = ParamSpec("P")

# `write` polls a busy SQLite lock from the loop: soon at first (the checkpoint holds it for a few
# milliseconds), then no more often than every RETRY_MAX_S, for at most LOOP_WAIT_S in all.
RETRY_FIRST_S = 0.0005
RETRY_MAX_S = 0.01
LOOP_WAIT_S = BUSY_TIMEOUT_MS / 1000


async def read(db: Database, work: Callable[[], T]) -> T:
    """`work()`, a read-only unit of a few indexed lookups: on the loop on SQLite, else the threadpool.
    Unbounded reads (lists, scans) are `off_loop`: one would stall every request."""
    if db.dialect == "sqlite":
        return work()
    return await run_in_threadpool(work)


async def write(db: Database, unit: Callable[[Tx], T]) -> T:
    """`unit(tx)` in one write transaction, committed when it returns, rolled back if it raises.

    Sending a busy moment's units to the threadpool at once cost more than awaiting the lock on the
    loop: they then held the lock in turn with the loop's, which found it busy more often and sent more
    (bench/README.md). So the threadpool takes a unit only after LOOP_WAIT_S, or off SQLite."""
    if db.dialect == "sqlite":
        delay, waited = RETRY_FIRST_S, 0.0
        while True:
            with loop_writer.writing_if_free(db) as connection:
                if connection is not None:
                    with in_tx(connection) as tx:
                        return unit(tx)
            if waited >= LOOP_WAIT_S:
                break
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, RETRY_MAX_S)

    def pooled() -> T:
        with db.transaction() as tx:
            return unit(tx)

    return await run_in_threadpool(pooled)


async def off_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)` in the threadpool: for anything that writes through a unit of work, hashes,
    reads without a bound, or may otherwise wait."""
    return await run_in_threadpool(work, *args, **kwargs)
