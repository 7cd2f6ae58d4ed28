"""Shared fixtures: every database test runs on SQLite and, where a server exists, PostgreSQL.

PostgreSQL comes from PASSBRIDGE_TEST_PG_URL, which scripts/test (and so .ci/run) sets after
starting the machine's server with pg_ctlcluster. Each test gets its own schema there, and its
own file on SQLite, so tests never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passbridge.clock import ManualClock
from passbridge.config import Settings, load_settings
from passbridge.services.context import Env, operator
from passbridge.services.tenant import Initialised, initialise
from passbridge.store.db import Database
from tests.pg import fresh_schema
from tests.servers import TEST_PEPPER

__all__ = ["TEST_PEPPER"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'passbridge.db'}"
        return
    with fresh_schema() as url:
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
    environment = Env.from_settings(settings, clock)
    environment.db.upgrade()
    yield environment
    environment.db.dispose()


@pytest.fixture
def tenant(env: Env) -> Initialised:
    with env.db.unit_of_work() as session:
        return initialise(session, env, operator(), admin_upn="admin@contoso.example", tenant_name="Contoso")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the in-process CLI at this test's database."""
    monkeypatch.setenv("PASSBRIDGE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PASSBRIDGE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PASSBRIDGE_PEPPER", TEST_PEPPER)
    return settings


def open_db(url: str) -> Database:
    return Database(url)
