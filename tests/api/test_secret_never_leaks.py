"""A pass value is shown once, in its creation response or the CLI's issue output, and nowhere else:
not in logs (captured at DEBUG, SQL included), audit rows, later responses or later CLI output."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.config import Settings, load_settings
from passbridge.services.context import Env
from passbridge.services.tenant import Initialised
from passbridge.services.tokens import issue_app_token
from passbridge.store import directory as directory_store
from passbridge.store.models import AuditEntry, AuditTarget, TemporaryAccessPass
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import passes_url, user_auth
from tests.cli.test_cli import cli
from tests.conftest import TEST_PEPPER
from tests.factories import make_user
from tests.servers import PASSBRIDGE, free_port, wait_ready

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
    with env.db.unit_of_work(readonly=True) as session:
        entries = session.execute(select(*AuditEntry.__table__.columns)).all()
        targets = session.execute(select(*AuditTarget.__table__.columns)).all()
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
    with env.db.unit_of_work(readonly=True) as session:
        hashes = list(session.scalars(select(TemporaryAccessPass.secret_hash)))
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
def server(tmp_path: Path) -> Any:
    """A real `passbridge serve` (uvicorn, its own logging) on a fresh SQLite store."""
    port = free_port()
    base = f"http://localhost:{port}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PASSBRIDGE_")}
    environ.update(PASSBRIDGE_DATA_DIR=str(tmp_path), PASSBRIDGE_PEPPER=TEST_PEPPER, PASSBRIDGE_BASE_URL=base)
    subprocess.run(
        [str(PASSBRIDGE), "init", "--admin", "admin@contoso.example"],
        env=environ,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(PASSBRIDGE), "app", "add", "HR", "--permission", "UserAuthenticationMethod.ReadWrite.All"],
        env=environ,
        check=True,
        capture_output=True,
    )
    log_file = tmp_path / "server.log"
    with log_file.open("w") as sink:
        proc = subprocess.Popen(
            [str(PASSBRIDGE), "serve", "--port", str(port)], env=environ, text=True, stdout=sink, stderr=sink
        )
        try:
            wait_ready(f"{base}/readyz", proc)
            yield base, environ, proc, log_file
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)


def test_pass_value_never_reaches_the_servers_own_output(server: Any) -> None:
    base, environ, proc, log_file = server
    settings = load_settings(
        data_dir=Path(environ["PASSBRIDGE_DATA_DIR"]),
        pepper=TEST_PEPPER,
        base_url=environ["PASSBRIDGE_BASE_URL"],
    )
    env = Env.from_settings(settings)
    try:
        with env.db.unit_of_work(readonly=True) as session:
            token = issue_app_token(session, env, directory_store.applications(session)[0]).access_token
            admin = directory_store.user_by_upn(session, "admin@contoso.example")
            assert admin is not None
            admin_id = admin.id
    finally:
        env.db.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base}/v1.0/users/{admin_id}/authentication/temporaryAccessPassMethods"
    created = httpx.post(url, json={}, headers=headers, timeout=10)
    assert created.status_code == 201
    value = created.json()["temporaryAccessPass"]
    assert value not in httpx.get(url, headers=headers, timeout=10).text
    proc.terminate()
    proc.wait(timeout=20)
    output = log_file.read_text()
    # uvicorn's access log saw the request, so the output is the one that would hold a leak.
    assert "POST /v1.0/users/" in output and "201" in output
    assert value not in output
