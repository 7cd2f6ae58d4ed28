"""Dual control from the CLI and the paths that cannot hold a request (docs/dual-control.md): `tap approval`
and `tap request`; bulk issuing and the joiner workflow report a target needing approval instead of issuing;
bad input is one line and a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from passbridge.config import Settings
from passbridge.directory.service import DirectoryService
from passbridge.joiner.service import JoinerService, run_due
from passbridge.passes.approval import ApprovalService
from passbridge.services.context import Env, operator
from passbridge.store.db import Database
from passbridge.store.models import JoinerRun, TemporaryAccessPass
from tests.cli.test_cli import cli


@pytest.fixture
def tenant_cli(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    for upn in ("boss@contoso.example", "ada@contoso.example"):
        assert cli(capsys, "user", "add", upn)[0] == 0
    assert cli(capsys, "role", "assign", "Global Reader", "boss@contoso.example")[0] == 0
    return cli_env


def _passes(settings: Settings) -> list[str]:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction("read") as tx:
            return [p.user_id for p in tx.session.scalars(select(TemporaryAccessPass))]
    finally:
        db.dispose()


def test_settings_show_and_set_with_one_line_errors(
    tenant_cli: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "tap", "approval", "show", "--json")
    assert code == 0 and json.loads(out)["isEnabled"] is False
    code, out, _ = cli(capsys, "tap", "approval", "set", "--enable", "--threshold", "240", "--json")
    assert code == 0
    assert json.loads(out) == {
        "isEnabled": True,
        "forRoleHolders": True,
        "lifetimeThresholdMinutes": 240,
        "requestExpiryMinutes": 1440,
        "collectWithinMinutes": 480,
    }
    code, _, err = cli(capsys, "tap", "approval", "set", "--no-role-holders", "--no-threshold")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "applies to nobody" in err
    code, _, err = cli(capsys, "tap", "request", "approve", "00000000-0000-0000-0000-000000000000")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "No temporaryAccessPassRequest" in err
    code, _, err = cli(capsys, "tap", "request", "list", "--state", "lost")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Invalid state" in err


def test_an_operator_request_waits_and_lists_until_an_administrator_decides(
    tenant_cli: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "tap", "approval", "set", "--enable")[0] == 0
    before = _passes(tenant_cli)  # the first administrator's, from init
    code, out, _ = cli(capsys, "tap", "issue", "boss@contoso.example", "--reason", "INC-7")
    assert code == 0 and "Awaiting approval by a second administrator" in out
    assert _passes(tenant_cli) == before
    code, out, _ = cli(capsys, "tap", "request", "list", "--state", "pending")
    assert code == 0 and "boss@contoso.example" in out and "reason: INC-7" in out
    # Nobody holds a role to need approval for ada: her pass is issued at once.
    code, out, _ = cli(capsys, "tap", "issue", "ada@contoso.example")
    assert code == 0 and "Temporary Access Pass for ada@contoso.example" in out


def test_bulk_issuing_reports_a_target_needing_approval_and_issues_the_rest(
    tenant_cli: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli(capsys, "tap", "approval", "set", "--enable")[0] == 0
    before = len(_passes(tenant_cli))
    names = tmp_path / "names.csv"
    names.write_text("upn\nboss@contoso.example\nada@contoso.example\n")
    out = tmp_path / "result.csv"
    code, _, err = cli(capsys, "tap", "bulk", "--csv", str(names), "--out", str(out))
    assert code == 0, err
    got = {r["upn"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert got["ada@contoso.example"]["status"] == "issued"
    assert got["boss@contoso.example"]["status"] == "refused"
    assert "needs approval by a second administrator" in got["boss@contoso.example"]["reason"]
    assert got["boss@contoso.example"]["pass"] == ""
    assert len(_passes(tenant_cli)) == before + 1


def test_the_joiner_workflow_skips_a_new_hire_needing_approval(env: Env, tenant: object) -> None:
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        directory.add_user("grace@contoso.example", display_name="Grace Hopper", mail="grace@contoso.example")
        hire = directory.add_user(
            "ada@contoso.example", employee_hire_date=env.clock.now() + timedelta(hours=12)
        )
        directory.set_manager(hire.id, "grace@contoso.example")
        directory.assign_role("Global Reader", hire.id)
        JoinerService(tx, env, operator()).set(enabled=True, days_before=1, is_usable_once=True)
        ApprovalService(tx, env, operator()).set_settings(enabled=True)
    outcome = run_due(env)
    assert (outcome.issued, outcome.skipped) == (0, 1)
    with env.db.transaction("read") as tx:
        run = tx.session.get(JoinerRun, hire.id)
        assert run is not None and run.state == "skipped"
        assert run.reason is not None and "approval by a second administrator" in run.reason
        mine = select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == hire.id)
        assert tx.session.scalars(mine).all() == []
