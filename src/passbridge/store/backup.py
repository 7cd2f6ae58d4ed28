"""Copying a SQLite store whole, with SQLite's online backup API (`sqlite3.Connection.backup`).

The copy is made in one step, so it is one read transaction: a snapshot of a moment, while servers
go on writing (in WAL mode a reader never blocks a writer). The same API writes a restored store
into the live file, taking SQLite's write lock, so any process still connected sees the old store
or the new one, never a mixture (and `passbridge restore` still asks for the servers to be stopped:
their caches would not know). PostgreSQL has pg_dump and pg_restore (docs/operations.md).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, suppress
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import make_url

from passbridge.store.db import BUSY_TIMEOUT_MS


class BackupRefused(Exception):
    """The backup or restore cannot be done as asked; one line saying why."""


def sqlite_file(url: str) -> Path | None:
    """The SQLite file behind the store's URL, or None for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupRefused("the store is not a SQLite file")
    return Path(parsed.database)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    target = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(target, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.isolation_level = None
    return connection


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    # pages=-1 (the default): every page in one step, under one read transaction of the source.
    source.backup(target)


def back_up(source: Path, target: Path) -> str:
    """Copy the store at `source` to the new file `target` (owner-only; never an existing file), as
    one self-contained file (no -wal beside it); its migration revision."""
    if not source.exists():
        raise BackupRefused(f"there is no store at {source}")
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupRefused(f"{target} exists; backup never overwrites a file") from None
    except OSError as exc:
        raise BackupRefused(f"{target} cannot be created: {exc.strerror}") from None
    try:
        with closing(_connect(source)) as live, closing(_connect(target)) as copy:
            _copy(live, copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        revision = check_store(target)
        with target.open("rb") as written:
            os.fsync(written.fileno())
        return revision
    except BaseException:
        with suppress(FileNotFoundError):
            target.unlink()
        raise


def check_store(path: Path, migrations: Path | None = None) -> str:
    """The migration revision of the Passbridge store in `path`, once SQLite finds it intact and the
    revision is one this Passbridge knows; else BackupRefused."""
    try:
        with closing(_connect(path, read_only=True)) as connection:
            integrity = connection.execute("PRAGMA integrity_check").fetchone()
            if integrity is None or integrity[0] != "ok":
                raise BackupRefused(f"{path} fails SQLite's integrity check")
            tables = {
                row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not {"alembic_version", "tenant", "app_user"} <= tables:
                raise BackupRefused(f"{path} is not a Passbridge store")
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{path} is not a SQLite database ({exc})") from None
    if row is None:
        raise BackupRefused(f"{path} is a Passbridge store with no migration applied")
    revision = str(row[0])
    if not _known(revision, migrations):
        raise BackupRefused(
            f"{path} is at migration {revision}, which this Passbridge does not know (a newer version?)"
        )
    return revision


def _known(revision: str, migrations: Path | None) -> bool:
    from alembic.config import Config

    from passbridge.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(migrations or MIGRATIONS))
    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


def copy_into(source: Path, target: Path) -> None:
    """Write the store in `source` over the store in `target` (created owner-only when absent), in
    one transaction of `target`."""
    with suppress(FileExistsError):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    with closing(_connect(source)) as restored, closing(_connect(target)) as live:
        _copy(restored, live)
