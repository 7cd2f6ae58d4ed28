"""The SQLite store's files are the owner's alone: they hold every hash, sealed key and log."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from passbridge.store.db import Database
from tests.servers import ADMIN, PASSBRIDGE, TEST_PEPPER


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_init_creates_the_data_dir_0700_and_the_database_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(PASSBRIDGE_DATA_DIR=str(data_dir))
    subprocess.run(
        [str(PASSBRIDGE), "init", "--admin", ADMIN],
        env=environ,
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask, under which files were created 0644
    )
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "passbridge.db") == 0o600
    assert _mode(data_dir / "pepper") == 0o600


def test_sqlite_database_and_its_wal_and_shm_files_are_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "passbridge.db"
    with _umask(0o022):
        db = Database(f"sqlite:///{path}")
        try:
            with db.transaction() as tx:
                tx.session.execute(text("CREATE TABLE probe (x INTEGER)"))
                tx.session.execute(text("INSERT INTO probe VALUES (1)"))
            with db.transaction("read") as tx:
                # While a connection is open, the write-ahead log and its index are on disk.
                assert tx.session.execute(text("SELECT x FROM probe")).scalar_one() == 1
                files = {p.name: _mode(p) for p in tmp_path.iterdir()}
        finally:
            db.dispose()
    assert files == {"passbridge.db": 0o600, "passbridge.db-wal": 0o600, "passbridge.db-shm": 0o600}


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
    finally:
        db.dispose()
    assert _mode(path) == 0o640


def test_data_dir_made_by_db_upgrade_is_0700_and_its_database_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(PASSBRIDGE_DATA_DIR=str(data_dir), PASSBRIDGE_PEPPER=TEST_PEPPER)
    subprocess.run(
        [str(PASSBRIDGE), "db", "upgrade"],
        env=environ,
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "passbridge.db") == 0o600
