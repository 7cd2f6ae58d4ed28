"""store/loop_writer.py: write units on the event loop never wait for SQLite's lock or a checkpoint.

How store/runner.py's `write` uses it (awaiting a held lock, then the pool): tests/unit/test_runner.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store import loop_writer
from passbridge.store.models import Tenant


def tenant_name(env: Env) -> str | None:
    with env.db.transaction("read") as tx:
        return tx.scalar(select(Tenant.display_name))


def rename(connection: object, name: str) -> None:
    connection.execute(update(Tenant).values(display_name=name))  # type: ignore[attr-defined]


def sqlite_only(env: Env) -> None:
    if env.db.dialect != "sqlite":
        pytest.skip("SQLite only: elsewhere every write unit goes to the threadpool")


def test_a_free_lock_gives_a_unit_that_commits(env: Env, tenant: Initialised) -> None:
    sqlite_only(env)
    with loop_writer.writing_if_free(env.db) as connection:
        assert connection is not None
        rename(connection, "Committed")
    assert tenant_name(env) == "Committed"


def test_a_held_lock_gives_none_at_once_instead_of_waiting(env: Env, tenant: Initialised) -> None:
    sqlite_only(env)
    with env.db.transaction() as holder:
        rename(holder, "Holder")
        started = time.monotonic()
        with loop_writer.writing_if_free(env.db) as connection:
            assert connection is None
        assert time.monotonic() - started < 1.0  # busy_timeout is 30 s everywhere else
    # The lock is free again, and the refused attempt left the loop's connection usable.
    with loop_writer.writing_if_free(env.db) as connection:
        assert connection is not None
        busy_timeout = connection.connection.driver_connection.execute("PRAGMA busy_timeout")  # type: ignore[union-attr]
        assert busy_timeout.fetchone() == (0,)  # the loop's own connection never waits
        rename(connection, "After")
    assert tenant_name(env) == "After"


def test_a_failing_unit_is_rolled_back_and_the_next_one_starts_afresh(env: Env, tenant: Initialised) -> None:
    sqlite_only(env)
    with pytest.raises(RuntimeError), loop_writer.writing_if_free(env.db) as connection:
        assert connection is not None
        rename(connection, "Never")
        raise RuntimeError("the grant failed")
    assert tenant_name(env) == "Contoso"
    with loop_writer.writing_if_free(env.db) as connection:
        assert connection is not None
        rename(connection, "Next")
    assert tenant_name(env) == "Next"


def test_a_second_caller_while_the_connection_is_in_use_gets_none(env: Env, tenant: Initialised) -> None:
    sqlite_only(env)
    with loop_writer.writing_if_free(env.db) as first:
        assert first is not None
        with loop_writer.writing_if_free(env.db) as second:
            assert second is None


def test_the_loop_connection_leaves_checkpoints_to_a_thread(
    env: Env, tenant: Initialised, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_only(env)
    monkeypatch.setattr(loop_writer, "CHECKPOINT_EVERY", 3)
    checkpoints: list[str] = []
    original = loop_writer._Writer._checkpoint

    def counted(writer: loop_writer._Writer) -> None:
        checkpoints.append(threading.current_thread().name)
        original(writer)

    monkeypatch.setattr(loop_writer._Writer, "_checkpoint", counted)
    for i in range(3):
        with loop_writer.writing_if_free(env.db) as connection:
            assert connection is not None
            autocheckpoint = connection.connection.driver_connection.execute("PRAGMA wal_autocheckpoint")  # type: ignore[union-attr]
            assert autocheckpoint.fetchone() == (0,)
            rename(connection, f"Name {i}")
    deadline = time.monotonic() + 5
    while not checkpoints and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpoints == ["passbridge-checkpoint"]


def test_other_databases_always_use_the_threadpool(env: Env, tenant: Initialised) -> None:
    if env.db.dialect == "sqlite":
        pytest.skip("PostgreSQL: a network round trip per statement belongs off the loop")
    with loop_writer.writing_if_free(env.db) as connection:
        assert connection is None
    with env.db.transaction("read") as tx:
        assert tx.scalar(select(func.count()).select_from(Tenant)) == 1


def test_the_wal_starts_over_under_a_steady_stream_of_loop_writes(
    env: Env, tenant: Initialised, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PASSIVE checkpoints alone never catch up while writes keep coming, and a WAL that never starts
    # over grows without bound. Each unit here writes a few pages; 3,000 of them left a WAL of 12 MB.
    sqlite_only(env)
    monkeypatch.setattr(loop_writer, "CHECKPOINT_EVERY", 50)
    wal = Path(env.db.engine.url.database or "").with_name(
        Path(env.db.engine.url.database or "").name + "-wal"
    )
    largest = 0
    for i in range(3000):
        with loop_writer.writing_if_free(env.db) as connection:
            if connection is None:  # a RESTART holds writers off for a moment: wait as the grant would
                with env.db.transaction() as waited:
                    rename(waited, f"Name {i}")
                continue
            rename(connection, f"Name {i} " + "x" * 200)
        time.sleep(0.0002)  # a grant's work outside its unit: the loop never holds the lock for long
        if i % 100 == 0 and wal.exists():
            largest = max(largest, wal.stat().st_size)
    assert (tenant_name(env) or "").startswith("Name 2999")
    assert 0 < largest < 4 * 1024 * 1024
