"""Shared fixtures: every database test runs on SQLite and, where a server exists, PostgreSQL.

PostgreSQL comes from PASSBRIDGE_TEST_PG_URL, which scripts/test (and so .ci/run) sets after
starting the machine's server with pg_ctlcluster. Each test gets its own schema there, and its
own file on SQLite, so tests never see each other's rows. Both start migrated: a copy of a SQLite file
migrated once per test process, a replay of one recorded PostgreSQL migration (tests/pg.py); running
Alembic for every test was most of the suite's time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from passbridge.clock import ManualClock
from passbridge.config import Settings, load_settings
from passbridge.directory.tenant import Initialised, initialise
from passbridge.services.context import Env, operator
from passbridge.store.db import Database
from tests.pg import SchemaSupply, migrated_schema, recorded_migration, require_pg
from tests.servers import TEST_PEPPER

__all__ = ["TEST_PEPPER"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per test process."""
    path = tmp_path_factory.mktemp("template") / "passbridge.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
    finally:
        # The last connection to close checkpoints the WAL into the file, so the file alone is the store.
        db.dispose()
    return path


def copy_sqlite_template(template: Path, path: Path) -> None:
    """`template` copied to `path`, readable by its owner only, as the store's own file should be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with template.open("rb") as source, os.fdopen(created, "wb") as sink:
        shutil.copyfileobj(source, sink)


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[SchemaSupply]:
    """Migrated PostgreSQL schemas, one per test, from a migration recorded once per test process."""
    with recorded_migration() as migration:
        supply = SchemaSupply(migration)
        try:
            yield supply
        finally:
            supply.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of this test's own, already migrated to head."""
    if request.param == "sqlite":
        path = tmp_path / "passbridge.db"
        copy_sqlite_template(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    require_pg()
    with migrated_schema(request.getfixturevalue("pg_schemas")) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        pepper=TEST_PEPPER,
        base_url="http://localhost:8000",
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def env(settings: Settings, clock: ManualClock) -> Iterator[Env]:
    # No upgrade: database_url's store is at head already.
    environment = Env.from_settings(settings, clock)
    yield environment
    environment.db.dispose()


@pytest.fixture
def tenant(env: Env) -> Initialised:
    with env.db.transaction() as tx:
        return initialise(tx, env, operator(), admin_upn="admin@contoso.example", tenant_name="Contoso")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the in-process CLI at this test's database."""
    monkeypatch.setenv("PASSBRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PASSBRIDGE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PASSBRIDGE_PEPPER", TEST_PEPPER)
    return settings


def open_db(url: str) -> Database:
    return Database(url)
