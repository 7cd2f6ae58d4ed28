"""A pass value is shown once, in its creation response or the CLI's issue output, and nowhere else:
not in logs (captured at DEBUG, SQL included), audit rows, later responses or later CLI output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.config import Settings
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, AuditTarget, TemporaryAccessPass
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import passes_url, user_auth
from tests.cli.test_cli import cli
from tests.factories import make_user
from tests.servers import ServedStore, served_store

LOGGERS = (
    "",
    "passbridge",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "sqlalchemy.engine",
    "httpx",
    "fastapi",
)


def audit_rows(env: Env) -> str:
    """Every column of every audit row (and its target index), as text."""
    with env.db.transaction("read") as tx:
        entries = tx.session.execute(select(*AuditEntry.__table__.columns)).all()
        targets = tx.session.execute(select(*AuditTarget.__table__.columns)).all()
    return json.dumps([list(r) for r in entries + targets], default=str)


def test_pass_values_never_leak_from_api_or_cli(
    api: TestClient,
    env: Env,
    tenant: Initialised,
    app_auth: TokenFactory,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    writer = app_auth("UserAuthenticationMethod.ReadWrite.All", "AuditLog.Read.All")
    ada = make_user(env, "ada@contoso.example")
    grace = make_user(env, "grace@contoso.example")

    values: list[str] = []
    for version in ("v1.0", "beta"):
        created = api.post(passes_url(ada.id, version), json={}, headers=writer)
        assert created.status_code == 201
        values.append(created.json()["temporaryAccessPass"])
    code, out, _ = cli(capsys, "tap", "issue", "grace@contoso.example", "--json")
    assert code == 0
    values.append(json.loads(out)["temporaryAccessPass"])
    code, out, _ = cli(capsys, "tap", "issue", "grace@contoso.example")
    assert code == 0
    values.append(out.splitlines()[0].rsplit(" ", 1)[1])
    values.append(tenant.bootstrap_pass.value)
    assert all(len(v) == 8 for v in values) and len(set(values)) == len(values)

    later: list[str] = []
    own = user_auth(env, grace.id, "UserAuthenticationMethod.Read")
    for version in ("v1.0", "beta"):
        for user in (ada.id, grace.id, tenant.admin.id):
            listed = api.get(passes_url(user, version), headers=writer)
            later.append(listed.text)
            for item in listed.json()["value"]:
                later.append(api.get(f"{passes_url(user, version)}/{item['id']}", headers=writer).text)
            later.append(api.get(f"/{version}/users/{user}/authentication/methods", headers=writer).text)
        later.append(api.get(f"/{version}/me/authentication/methods", headers=own).text)
        later.append(api.get(f"/{version}/me/authentication/temporaryAccessPassMethods", headers=own).text)
        audits = api.get(f"/{version}/auditLogs/directoryAudits", headers=writer)
        assert audits.status_code == 200
        assert any(
            e["activityDisplayName"] == "Admin registered security info" for e in audits.json()["value"]
        )
        later.append(audits.text)
    for args in (("tap", "show", "grace@contoso.example"), ("tap", "show", "ada@contoso.example", "--json")):
        code, out, err = cli(capsys, *args)
        assert code == 0
        later.append(out + err)
    code, out, err = cli(capsys, "tap", "revoke", "ada@contoso.example")
    later.append(out + err)
    assert code == 0

    records = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    # The capture is real: SQL statements (and their parameters) reached it.
    assert any("INSERT INTO temporary_access_pass" in r for r in records)
    logs = "\n".join(records)
    stored_audit = audit_rows(env)
    with env.db.transaction("read") as tx:
        hashes = list(tx.session.scalars(select(TemporaryAccessPass.secret_hash)))
    assert len(hashes) == 2  # grace's and the administrator's bootstrap pass; ada's was revoked
    for value in values:
        assert value not in logs
        assert value not in stored_audit
        for text in later:
            assert value not in text
        for stored in hashes:
            assert stored.startswith("$argon2id$v=19$")
            assert value not in stored


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    """A real `passbridge serve` (uvicorn, its own logging) on a fresh SQLite store."""
    with served_store(tmp_path, "UserAuthenticationMethod.ReadWrite.All") as served:
        yield served


def test_pass_value_never_reaches_the_servers_own_output(server: ServedStore) -> None:
    token = server.app_token()
    headers = {"Authorization": f"Bearer {token}"}
    # Graph accepts the userPrincipalName in the path, so the script needs no directory read.
    url = f"{server.base}/v1.0/users/admin@contoso.example/authentication/temporaryAccessPassMethods"
    created = httpx.post(url, json={}, headers=headers, timeout=10)
    assert created.status_code == 201
    value = created.json()["temporaryAccessPass"]
    assert value not in httpx.get(url, headers=headers, timeout=10).text
    server.proc.terminate()
    server.proc.wait(timeout=20)
    output = server.log_file.read_text()
    # uvicorn's access log saw the request, so the output is the one that would hold a leak.
    assert "POST /v1.0/users/" in output and "201" in output
    assert value not in output
