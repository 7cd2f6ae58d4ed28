"""The operator's CLI: output, exit codes, one-line errors, and data left intact on failure."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from passbridge.cli.base import run
from passbridge.config import Settings
from passbridge.store.db import Database
from passbridge.store.models import AuditEntry, GroupMember, RoleAssignment, TemporaryAccessPass, User


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def counts(settings: Settings) -> tuple[int, ...]:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction("read") as tx:
            return tuple(
                int(tx.session.scalar(select(func.count()).select_from(m)) or 0)
                for m in (User, GroupMember, RoleAssignment, AuditEntry, TemporaryAccessPass)
            )
    finally:
        db.dispose()


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code, out, _ = cli(
        capsys, "init", "--admin", "admin@contoso.example", "--tenant-name", "Contoso", "--json"
    )
    assert code == 0
    return dict(json.loads(out))


def test_init_json_prints_tenant_admin_and_one_time_pass(initialised: dict[str, str]) -> None:
    assert set(initialised) >= {"tenantId", "adminUserId", "adminUpn", "temporaryAccessPass", "signInUrl"}
    assert initialised["adminUpn"] == "admin@contoso.example"
    assert len(initialised["temporaryAccessPass"]) == 8
    assert initialised["signInUrl"] == "http://localhost:8000/login"


def test_second_init_fails_with_one_line_and_changes_nothing(
    initialised: dict[str, str], cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = counts(cli_env)
    code, out, err = cli(capsys, "init", "--admin", "other@contoso.example")
    assert code == 1 and out == ""
    assert err == "passbridge: error: this store is already initialised; nothing was changed\n"
    assert counts(cli_env) == before


def test_pass_appears_in_no_audit_entry(initialised: dict[str, str], cli_env: Settings) -> None:
    db = Database(cli_env.effective_database_url)
    with db.transaction("read") as tx:
        rows = tx.session.scalars(select(AuditEntry)).all()
        dumped = json.dumps(
            [[r.initiated_by, r.target_resources, r.additional_details, r.result_reason] for r in rows]
        )
    db.dispose()
    assert initialised["temporaryAccessPass"] not in dumped
    assert len(rows) >= 4


def test_user_add_list_show_disable_delete(
    initialised: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "user", "add", "Ada@contoso.example", "--display-name", "Ada Lovelace", "--json"
    )
    assert code == 0
    ada = json.loads(out)
    assert ada["userPrincipalName"] == "Ada@contoso.example" and ada["accountEnabled"] is True
    assert ada["createdDateTime"].endswith("Z")

    code, out, _ = cli(capsys, "user", "list", "--json")
    names = [u["userPrincipalName"] for u in json.loads(out)["value"]]
    assert names == ["Ada@contoso.example", "admin@contoso.example"]

    assert cli(capsys, "user", "disable", "ada@CONTOSO.example")[0] == 0
    code, out, _ = cli(capsys, "user", "show", "ada@contoso.example", "--json")
    assert json.loads(out)["accountEnabled"] is False

    assert cli(capsys, "user", "delete", ada["id"])[0] == 0
    code, _, err = cli(capsys, "user", "show", "ada@contoso.example")
    assert code == 1 and err.startswith("passbridge: error: Resource 'ada@contoso.example' does not exist")


def test_group_and_role_commands(initialised: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "user", "add", "megan@contoso.example")
    assert cli(capsys, "group", "add", "Helpdesk")[0] == 0
    assert cli(capsys, "group", "add-member", "helpdesk", "megan@contoso.example")[0] == 0
    assert cli(capsys, "role", "assign", "Authentication Administrator", "megan@contoso.example")[0] == 0
    _, out, _ = cli(capsys, "user", "show", "megan@contoso.example", "--json")
    shown = json.loads(out)
    assert shown["memberOf"] == ["Helpdesk"]
    assert shown["directoryRoles"] == ["Authentication Administrator"]
    code, out, _ = cli(capsys, "role", "remove", "authentication-administrator", "megan@contoso.example")
    assert code == 0 and "no longer holds Authentication Administrator" in out
    _, out, _ = cli(capsys, "user", "show", "megan@contoso.example", "--json")
    assert json.loads(out)["directoryRoles"] == []
    code, _, err = cli(capsys, "role", "remove", "Global Reader", "megan@contoso.example")
    assert code == 1 and "does not hold the role Global Reader" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["user", "add", "ADMIN@contoso.example"], "already exists"),
        (["user", "add", "not a upn"], "must have the form alias@domain"),
        (["user", "show", "ghost@contoso.example"], "does not exist"),
        (["group", "add-member", "No such group", "admin@contoso.example"], "does not exist"),
        (["role", "assign", "Chief Wizard", "admin@contoso.example"], "Unknown role 'Chief Wizard'"),
        (["role", "assign", "Global Administrator", "admin@contoso.example"], "already holds the role"),
        (
            ["app", "add", "HR", "--permission", "Files.ReadWrite.All"],
            "Unknown permission 'Files.ReadWrite.All'",
        ),
        (["app", "add", "HR", "--redirect-uri", "http://evil.example/cb"], "must use https"),
    ],
)
def test_bad_input_one_line_nonzero_and_data_unchanged(
    initialised: dict[str, str],
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    before = counts(cli_env)
    code, out, err = cli(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("passbridge: error: ") and message in err
    assert err.count("\n") == 1
    assert counts(cli_env) == before


def test_app_add_prints_secret_once_and_list_never_shows_it(
    initialised: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys,
        "app",
        "add",
        "HR sync",
        "--permission",
        "UserAuthenticationMethod.ReadWrite.All",
        "--permission",
        "user.readwrite.all",
        "--json",
    )
    created = json.loads(out)
    assert code == 0 and len(created["clientSecret"]) >= 40
    assert created["requiredPermissions"] == ["User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"]
    code, out, _ = cli(capsys, "app", "list", "--json")
    assert created["clientSecret"] not in out
    assert json.loads(out)["value"][0]["appId"] == created["clientId"]


def test_commands_before_init_say_to_run_init(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "user", "list")
    assert code == 1
    assert "passbridge init" in err and err.count("\n") == 1


def test_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PASSBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PASSBRIDGE_DATABASE_URL", "postgresql+psycopg://nobody:secretpw@127.0.0.1:1/none")
    code, _, err = cli(capsys, "init", "--admin", "admin@contoso.example")
    assert code == 1
    assert err.startswith("passbridge: error: database unavailable:") and err.count("\n") == 1
    assert "secretpw" not in err
    assert not (tmp_path / "pepper").exists()


def test_invalid_configuration_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSBRIDGE_BASE_URL", "ftp://example")
    code, _, err = cli(capsys, "user", "list")
    assert code == 1
    assert (
        err
        == "passbridge: error: invalid PASSBRIDGE_BASE_URL: must be an absolute http(s) URL such as http://localhost:8000\n"
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "user", "add")
    assert code == 2 and "Missing argument 'UPN'" in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["user", "add", "--help"],
        ["app", "add", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["role", "assign", "--help"],
    ):
        code, out, _ = cli(capsys, *args)
        assert code == 0 and "Usage: passbridge" in out


def test_provisioning_tokens_are_shown_once_listed_and_revoked(
    initialised: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "provisioning", "token", "add", "Workday", "--json")
    assert code == 0
    made = json.loads(out)
    assert made["token"].startswith("pbscim_") and made["scimUrl"].endswith("/scim/v2")
    code, out, _ = cli(capsys, "provisioning", "token", "list", "--json")
    [listed] = json.loads(out)
    assert "token" not in listed and listed["name"] == "Workday" and listed["revokedDateTime"] is None
    assert cli(capsys, "provisioning", "token", "add", "workday")[0] != 0  # a live name is taken
    code, out, _ = cli(capsys, "provisioning", "token", "revoke", "Workday")
    assert code == 0 and "Revoked" in out
    code, out, err = cli(capsys, "provisioning", "token", "revoke", "Nobody")
    assert code != 0 and err.count("\n") == 1 and "No provisioning token" in err
