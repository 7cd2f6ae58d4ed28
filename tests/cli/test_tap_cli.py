"""`passbridge tap issue|show|revoke`: output, Graph's JSON shape, one-line errors, data left intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from passbridge.config import Settings
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import PolicyState, TapPolicy
from passbridge.store.db import Database
from passbridge.store.models import AuditEntry, TemporaryAccessPass
from tests.api.tap_helpers import PASS_KEYS
from tests.cli.test_cli import cli, counts


@pytest.fixture
def ada(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "user", "add", "ada@contoso.example")[0] == 0
    return "ada@contoso.example"


def state(settings: Settings) -> tuple[Any, ...]:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction("read") as tx:
            passes = sorted((r.id, r.secret_hash) for r in tx.session.scalars(select(TemporaryAccessPass)))
    finally:
        db.dispose()
    return counts(settings), passes


def set_policy(settings: Settings, policy: TapPolicy) -> None:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction() as tx:
            policy_store.save(tx, policy, now=datetime.now(UTC))
    finally:
        db.dispose()


def issue_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = cli(capsys, "tap", "issue", *args, "--json")
    assert (code, err) == (0, ""), err
    return dict(json.loads(out))


def test_issue_json_is_graphs_creation_shape_with_the_pass(
    ada: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = issue_json(capsys, ada)
    assert set(data) == PASS_KEYS
    assert data["@odata.type"] == "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    assert len(data["temporaryAccessPass"]) == 8
    assert (data["lifetimeInMinutes"], data["isUsableOnce"], data["isUsable"]) == (60, False, True)
    assert data["methodUsabilityReason"] == "EnabledByPolicy"


def test_issue_human_output_prints_the_pass_once_with_its_terms(
    ada: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "tap", "issue", "ADA@contoso.example", "--lifetime", "90", "--one-time")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Temporary Access Pass for ada@contoso.example: ")
    value = lines[0].rsplit(" ", 1)[1]
    assert len(value) == 8
    assert lines[1].startswith("  one-time, valid ")
    assert "(90 minutes); usable: EnabledByPolicy" in lines[1]
    assert lines[2] == "  Hand it over now: it is not shown again."


def test_issue_with_start_and_reusable(ada: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = issue_json(capsys, ada, "--start", "2099-01-05T09:00:00Z", "--reusable", "--lifetime", "480")
    assert (data["startDateTime"], data["lifetimeInMinutes"], data["isUsableOnce"]) == (
        "2099-01-05T09:00:00Z",
        480,
        False,
    )
    assert (data["isUsable"], data["methodUsabilityReason"]) == (False, "NotYetValid")


def test_start_without_offset_is_utc(ada: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = issue_json(capsys, ada, "--start", "2099-01-05T09:00")
    assert data["startDateTime"] == "2099-01-05T09:00:00Z"


def test_issue_again_replaces_the_pass(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    first = issue_json(capsys, ada)
    second = issue_json(capsys, ada)
    code, out, _ = cli(capsys, "tap", "show", ada, "--json")
    assert code == 0 and json.loads(out)["id"] == second["id"] != first["id"]


def test_show_prints_metadata_without_the_value(ada: str, capsys: pytest.CaptureFixture[str]) -> None:
    issued = issue_json(capsys, ada)
    code, out, err = cli(capsys, "tap", "show", ada, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == issued | {"temporaryAccessPass": None}
    code, out, _ = cli(capsys, "tap", "show", ada)
    assert code == 0
    assert out.splitlines()[0] == f"Temporary Access Pass {issued['id']} for {ada}"
    assert issued["temporaryAccessPass"] not in out


def test_show_without_a_pass(ada: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "tap", "show", ada) == (0, "ada@contoso.example has no Temporary Access Pass.\n", "")
    assert cli(capsys, "tap", "show", ada, "--json") == (0, "null\n", "")


def test_revoke_deletes_and_audits(ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    issue_json(capsys, ada)
    assert cli(capsys, "tap", "revoke", ada) == (
        0,
        "Revoked the Temporary Access Pass of ada@contoso.example\n",
        "",
    )
    assert cli(capsys, "tap", "show", ada, "--json")[1] == "null\n"
    db = Database(cli_env.effective_database_url)
    try:
        with db.transaction("read") as tx:
            names = list(tx.session.scalars(select(AuditEntry.activity_display_name)))
    finally:
        db.dispose()
    assert names.count("Admin deleted security info") == 1


BAD_INPUT = [
    (
        ("issue", "ada@contoso.example", "--lifetime", "abc"),
        "--lifetime must be a whole number of minutes; got 'abc'",
    ),
    (
        ("issue", "ada@contoso.example", "--lifetime", "-5"),
        "--lifetime must be a whole number of minutes; got '-5'",
    ),
    (
        ("issue", "ada@contoso.example", "--lifetime", "500"),
        "Invalid LifetimeInMinutes specified. The valid range between 60 and 480.",
    ),
    (
        ("issue", "ada@contoso.example", "--start", "soon"),
        "--start must be an ISO 8601 time such as 2026-01-05T09:00:00Z; got 'soon'",
    ),
    (
        ("issue", "ada@contoso.example", "--start", "2000-01-01T00:00:00Z"),
        "startDateTime must not be in the past.",
    ),
    (
        ("issue", "ghost@contoso.example"),
        "Resource 'ghost@contoso.example' does not exist or one of its queried reference-property "
        "objects are not present.",
    ),
    (("revoke", "ada@contoso.example"), "ada@contoso.example has no Temporary Access Pass."),
    (
        ("show", "ghost@contoso.example"),
        "Resource 'ghost@contoso.example' does not exist or one of its queried reference-property "
        "objects are not present.",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_is_one_line_exit_1_and_changes_nothing(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    before = state(cli_env)
    assert cli(capsys, "tap", *args) == (1, "", f"passbridge: error: {message}\n")
    assert state(cli_env) == before


def test_reusable_is_refused_when_the_policy_forces_one_time(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    set_policy(cli_env, TapPolicy(is_usable_once=True))
    before = state(cli_env)
    code, out, err = cli(capsys, "tap", "issue", ada, "--reusable")
    assert (code, out) == (1, "")
    assert err == "passbridge: error: The policy requires one-time passes; isUsableOnce cannot be false.\n"
    assert state(cli_env) == before
    assert issue_json(capsys, ada)["isUsableOnce"] is True


def test_issue_is_refused_while_the_policy_is_disabled(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    set_policy(cli_env, TapPolicy(state=PolicyState.DISABLED))
    before = state(cli_env)
    code, _, err = cli(capsys, "tap", "issue", ada)
    assert code == 1
    assert err == (
        "passbridge: error: The Temporary Access Pass policy is disabled; enable it before creating passes.\n"
    )
    assert state(cli_env) == before


def test_issue_takes_a_reason_and_a_policy_set_to_require_one_refuses_without(
    ada: str, capsys: pytest.CaptureFixture[str], cli_env: Settings
) -> None:
    code, out, err = cli(capsys, "policy", "set", "--require-reason")
    assert code == 0 and "requireReason:               True" in out.splitlines()
    before = state(cli_env)
    code, out, err = cli(capsys, "tap", "issue", ada)
    assert (code, out) == (1, "")
    assert err == (
        "passbridge: error: The policy requires a reason for every pass: give a ticket id or a few words.\n"
    )
    code, out, err = cli(capsys, "tap", "issue", ada, "--reason", "x" * 257)
    assert code == 1 and err == "passbridge: error: The reason is too long: at most 256 characters.\n"
    assert state(cli_env) == before
    issue_json(capsys, ada, "--reason", "INC-42")
    db = Database(cli_env.effective_database_url)
    try:
        with db.transaction("read") as tx:
            details = [
                e.additional_details
                for e in tx.session.scalars(select(AuditEntry))
                if e.activity_display_name == "Admin registered security info"
                and e.target_resources[0]["userPrincipalName"] == ada
            ]
    finally:
        db.dispose()
    assert details == [[{"key": "reason", "value": "INC-42"}]]
    assert cli(capsys, "policy", "set", "--no-require-reason")[0] == 0
    issue_json(capsys, ada)
