"""A real SMTP server (tests/smtp.py) and an environment that sends through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from passbridge.clock import ManualClock
from passbridge.config import load_settings
from passbridge.directory.tenant import initialise
from passbridge.services.context import Env, operator
from tests.servers import TEST_PEPPER
from tests.smtp import SmtpServer, smtp_server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def env_sending_to(database_url: str, tmp_path: Path, clock: ManualClock, url: str, **more: object) -> Env:
    settings = load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        pepper=TEST_PEPPER,
        base_url="http://localhost:8000",
        smtp_url=url,
        mail_from="passbridge@contoso.example",
        **more,
    )
    return Env.from_settings(settings, clock)


@pytest.fixture
def mail_env(database_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer) -> Iterator[Env]:
    env = env_sending_to(database_url, tmp_path, clock, smtp.url)
    with env.db.transaction() as tx:
        initialise(tx, env, operator(), admin_upn="admin@contoso.example", tenant_name="Contoso")
    yield env
    env.db.dispose()
