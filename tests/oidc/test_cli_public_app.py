"""`passbridge app add --public`: a client without a secret, for PKCE sign-ins."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from passbridge.cli.base import run
from passbridge.config import Settings
from passbridge.store.db import Database
from passbridge.store.models import Application


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def applications(settings: Settings) -> list[Application]:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction("read") as tx:
            return list(tx.session.scalars(select(Application)))
    finally:
        db.dispose()


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0


def test_public_app_is_registered_without_a_secret(
    initialised: None, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "app", "add", "SPA", "--public", "--redirect-uri", "http://localhost:3000/cb", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert (data["clientSecret"], data["isPublicClient"]) == (None, True)
    [app] = applications(cli_env)
    assert (app.is_public_client, app.secret_hash, app.app_id) == (True, "", data["clientId"])
    code, out, _ = cli(
        capsys, "app", "add", "SPA two", "--public", "--redirect-uri", "http://localhost:3000/cb"
    )
    assert code == 0 and "no secret; use PKCE" in out and "clientSecret" not in out


def test_public_app_without_a_redirect_uri_is_refused_and_nothing_stored(
    initialised: None, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "app", "add", "SPA", "--public")
    assert (code, out) == (1, "")
    assert "needs at least one redirect URI" in err
    assert applications(cli_env) == []
