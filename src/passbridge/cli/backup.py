"""`passbridge backup FILE` and `passbridge restore FILE`: the SQLite store, copied whole (store/backup.py).

The pepper is never in the store, so never in a backup: it is backed up on its own, and a restored store
needs the pepper it was written with. PostgreSQL stores are backed up with pg_dump (docs/operations.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

import click
from cryptography.exceptions import InvalidTag

from passbridge.cli.base import fail, root, settings
from passbridge.config import Settings
from passbridge.security.keys import load_private
from passbridge.services.context import Env
from passbridge.store import backup as store_backup
from passbridge.store.backup import BackupRefused
from passbridge.store.db import Database
from passbridge.tokens import key_queries

PEPPER_NOTE = (
    "The pepper is not in the backup: keep PASSBRIDGE_PEPPER (or the data dir's 'pepper' file) "
    "backed up next to it; without it the passes, secrets and keys in it cannot be used."
)


def _sqlite_store(config: Settings, postgres_way: str) -> Path:
    try:
        found = store_backup.sqlite_file(config.effective_database_url)
    except BackupRefused as exc:
        fail(str(exc))
    if found is None:
        fail(f"the store is PostgreSQL: {postgres_way} (docs/operations.md)")
    return found


@root.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Copy the SQLite store to FILE (a new file, owner-only), consistent while `serve` writes."""
    source = _sqlite_store(settings(), "back it up with pg_dump")
    try:
        revision = store_backup.back_up(source, file)
    except BackupRefused as exc:
        fail(str(exc))
    click.echo(f"Backed up {source} to {file} (migration {revision}).")
    click.echo(PEPPER_NOTE)


@root.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace the store without asking (for scripts).")
def restore(file: Path, yes: bool) -> None:
    """Replace the SQLite store with the backup in FILE, then migrate it to this version's schema.

    Stop every `passbridge serve` using the store first: a running server keeps what it remembers
    (signing keys, verified tokens) from the store it had."""
    config = settings()
    target = _sqlite_store(config, "restore a pg_dump with pg_restore")
    try:
        revision = store_backup.check_store(file)
    except BackupRefused as exc:
        fail(str(exc))
    question = f"Replace the store at {target} with {file}? Every server using it must be stopped."
    if not yes:
        if not sys.stdin.isatty():
            fail(f"restore replaces the store at {target}: stop its servers, then run again with --yes")
        click.confirm(question, abort=True)
    if config.database_url is None:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Migrated and checked in a copy beside the store; the live file changes only once all of it held.
    handle, name = tempfile.mkstemp(prefix=".restore-", suffix=".db", dir=target.parent)
    os.close(handle)
    staged = Path(name)
    try:
        staged.unlink()
        store_backup.back_up(file, staged)
        database = Database(f"sqlite:///{staged}")
        try:
            database.upgrade()
            head = database.current_revision()
        finally:
            database.dispose()
        _check_pepper(config, staged)
        store_backup.copy_into(staged, target)
    except BackupRefused as exc:
        fail(str(exc))
    finally:
        for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
            with suppress(FileNotFoundError):
                leftover.unlink()
    moved = f", migrated to {head}" if head != revision else ""
    click.echo(f"Restored {file} into {target} (migration {revision}{moved}).")


def _check_pepper(config: Settings, staged: Path) -> None:
    """The restored store's signing keys must open with this pepper: with another, every token it
    signed and every pass in it would be useless."""
    env = Env.from_settings(config.model_copy(update={"database_url": f"sqlite:///{staged}"}))
    try:
        with env.db.transaction("read") as tx:
            for key in key_queries.published(tx, now=env.clock.now()):
                try:
                    load_private(env.keeper, key.kid, key.private_jwk_sealed)
                except InvalidTag:
                    raise BackupRefused(
                        "the backup's signing keys do not open with this pepper: set the pepper it "
                        "was made with (PASSBRIDGE_PEPPER or the data dir's pepper file) first"
                    ) from None
    finally:
        env.db.dispose()
