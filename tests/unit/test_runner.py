"""store/runner.py: the one place that decides where work from async code runs."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select, update

from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store import runner
from passbridge.store.models import Tenant
from passbridge.store.tx import Tx


def tenant_name(env: Env) -> str | None:
    with env.db.transaction("read") as tx:
        return tx.scalar(select(Tenant.display_name))


def rename(tx: Tx, name: str) -> None:
    tx.execute(update(Tenant).values(display_name=name))


def where(thread: list[int]) -> None:
    thread.append(threading.get_ident())


def test_a_point_read_runs_on_the_loop_on_sqlite_and_in_the_threadpool_elsewhere(
    env: Env, tenant: Initialised
) -> None:
    ran_in: list[int] = []

    def work() -> str | None:
        where(ran_in)
        return tenant_name(env)

    assert asyncio.run(runner.read(env.db, work)) == "Contoso"
    on_loop = ran_in == [threading.get_ident()]
    assert on_loop == (env.db.dialect == "sqlite")  # PostgreSQL is a round trip per statement


def test_a_small_write_runs_on_the_loop_on_sqlite_and_in_the_threadpool_elsewhere(
    env: Env, tenant: Initialised
) -> None:
    ran_in: list[int] = []

    def unit(tx: Tx) -> str:
        where(ran_in)
        rename(tx, "Written")
        return "done"

    assert asyncio.run(runner.write(env.db, unit)) == "done"
    assert tenant_name(env) == "Written"
    assert (ran_in == [threading.get_ident()]) == (env.db.dialect == "sqlite")


def test_a_write_unit_that_returns_none_runs_once(env: Env, tenant: Initialised) -> None:
    # None is the unit's own answer, not "try elsewhere": the unit is never run a second time.
    calls: list[str] = []

    def unit(tx: Tx) -> None:
        calls.append("ran")
        rename(tx, f"Run {len(calls)}")

    assert asyncio.run(runner.write(env.db, unit)) is None
    assert calls == ["ran"]
    assert tenant_name(env) == "Run 1"


def test_a_failing_write_unit_is_rolled_back(env: Env, tenant: Initialised) -> None:
    def unit(tx: Tx) -> None:
        rename(tx, "Never")
        raise RuntimeError("the grant failed")

    with pytest.raises(RuntimeError):
        asyncio.run(runner.write(env.db, unit))
    assert tenant_name(env) == "Contoso"


def _held(env: Env) -> tuple[threading.Thread, threading.Event]:
    """A thread holding SQLite's write lock (a pooled writer) until the returned event is set."""
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with env.db.transaction() as holder:
            rename(holder, "Holder")
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(10)
    return holder, release


def sqlite_only(env: Env) -> None:
    if env.db.dialect != "sqlite":
        pytest.skip("SQLite only: elsewhere every write unit goes to the threadpool")


def test_a_write_awaits_a_held_lock_on_the_loop_without_blocking_it(env: Env, tenant: Initialised) -> None:
    sqlite_only(env)
    holder, release = _held(env)
    ran_in: list[int] = []

    def unit(tx: Tx) -> str:
        where(ran_in)
        rename(tx, "Waited")
        return "done"

    async def scenario() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while not release.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.3, release.set)
        result = await runner.write(env.db, unit)
        await ticking
        return result, ticks

    try:
        result, ticks = asyncio.run(scenario())
    finally:
        release.set()
        holder.join(10)
    assert result == "done"
    assert ticks >= 10  # the loop went on while the unit waited ~0.3 s for the lock
    assert ran_in == [threading.get_ident()]  # and the unit then ran on the loop, not in a thread
    assert tenant_name(env) == "Waited"


def test_a_write_goes_to_the_threadpool_once_the_lock_stays_busy_too_long(
    env: Env, tenant: Initialised, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As long as a pooled connection would wait (30 s); shortened here. The pooled writer then waits
    # for the lock itself, off the loop, as every other writer does.
    sqlite_only(env)
    monkeypatch.setattr(runner, "LOOP_WAIT_S", 0.05)
    holder, release = _held(env)
    ran_in: list[int] = []

    def unit(tx: Tx) -> str:
        where(ran_in)
        rename(tx, "Pooled")
        return "done"

    async def scenario() -> str:
        asyncio.get_running_loop().call_later(0.3, release.set)
        return await runner.write(env.db, unit)

    try:
        result = asyncio.run(scenario())
    finally:
        release.set()
        holder.join(10)
    assert result == "done"
    assert len(ran_in) == 1 and ran_in != [threading.get_ident()]
    assert tenant_name(env) == "Pooled"


def test_off_loop_work_always_runs_in_a_worker_thread(env: Env, tenant: Initialised) -> None:
    ran_in: list[int] = []

    def work(name: str, *, suffix: str) -> str:
        where(ran_in)
        return name + suffix

    assert asyncio.run(runner.off_loop(work, "Con", suffix="toso")) == "Contoso"
    assert len(ran_in) == 1 and ran_in != [threading.get_ident()]
