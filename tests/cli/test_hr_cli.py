"""`passbridge user add/update/show` with what HR systems set: the properties, the hire date, other mails
and the manager; a bad value is one line and changes nothing."""

from __future__ import annotations

import json

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "init", "--admin", "admin@contoso.example", "--tenant-name", "Contoso")
    assert code == 0, err


def _show(capsys: pytest.CaptureFixture[str], upn: str) -> dict[str, object]:
    code, out, err = cli(capsys, "user", "show", upn, "--json")
    assert code == 0, err
    shown: dict[str, object] = json.loads(out)
    return shown


def test_user_add_takes_the_hr_properties_and_a_manager(
    initialised: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "user", "add", "boss@contoso.example")[0] == 0
    code, out, err = cli(
        capsys, "user", "add", "ada@contoso.example",
        "--employee-id", "E-1001", "--employee-type", "Employee", "--hire-date", "2027-01-04",
        "--department", "Finance", "--job-title", "Accountant", "--company", "Contoso",
        "--office", "Building 2", "--usage-location", "gb", "--mobile", "+44 7700 900123",
        "--other-mail", "ada@home.example", "--other-mail", "ada@old.example",
        "--manager", "boss@contoso.example",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("Created ada@contoso.example")
    shown = _show(capsys, "ada@contoso.example")
    assert shown["employeeHireDate"] == "2027-01-04T00:00:00Z" and shown["usageLocation"] == "GB"
    assert shown["otherMails"] == ["ada@home.example", "ada@old.example"]
    assert shown["manager"] == {
        "id": _show(capsys, "boss@contoso.example")["id"],
        "userPrincipalName": "boss@contoso.example",
    }


def test_user_show_prints_the_hr_properties_and_manager(
    initialised: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "user", "add", "boss@contoso.example")
    cli(capsys, "user", "add", "ada@contoso.example", "--department", "Finance",
        "--manager", "boss@contoso.example", "--hire-date", "2027-01-04T09:00:00+01:00")  # fmt: skip
    code, out, _ = cli(capsys, "user", "show", "ada@contoso.example")
    assert code == 0
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert lines["department"].strip() == "Finance"
    assert lines["hire date"].strip() == "2027-01-04T08:00:00Z"
    assert lines["manager"].strip() == "boss@contoso.example"
    assert lines["job title"].strip() == "-" and lines["other mails"].strip() == "-"


def test_user_update_changes_clears_and_removes_the_manager(
    initialised: None, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "user", "add", "boss@contoso.example")
    cli(capsys, "user", "add", "ada@contoso.example", "--department", "Finance", "--job-title", "Clerk",
        "--hire-date", "2027-01-04", "--other-mail", "ada@home.example",
        "--manager", "boss@contoso.example")  # fmt: skip
    code, out, err = cli(
        capsys, "user", "update", "ada@contoso.example", "--department", "Treasury", "--job-title", "",
        "--no-hire-date", "--no-other-mails", "--no-manager", "--display-name", "Ada L.",
    )  # fmt: skip
    assert code == 0 and out == "Updated ada@contoso.example\n", err
    shown = _show(capsys, "ada@contoso.example")
    assert (shown["department"], shown["jobTitle"], shown["employeeHireDate"]) == ("Treasury", None, None)
    assert shown["otherMails"] == [] and shown["manager"] is None and shown["displayName"] == "Ada L."


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--hire-date", "next monday"), "'--hire-date': 'next monday' is not a date"),
        (("--hire-date", "2027-02-30"), "is not a date"),
        (("--usage-location", "XX"), "ISO 3166-1"),
        (("--employee-id", "x" * 65), "employeeId must be at most 64 characters"),
        (("--other-mail", "not-mail"), "not an email address"),
        (("--manager", "nobody@contoso.example"), "does not exist"),
        (("--manager", "ada@contoso.example"), "own manager"),
        (("--manager", "admin@contoso.example", "--no-manager"), "not both"),
    ],
)
def test_a_bad_value_is_one_line_and_changes_nothing(
    initialised: None, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str
) -> None:
    cli(capsys, "user", "add", "ada@contoso.example", "--department", "Finance")
    before = _show(capsys, "ada@contoso.example")
    code, out, err = cli(capsys, "user", "update", "ada@contoso.example", "--department", "Sales", *args)
    assert code != 0 and out == ""
    assert err.startswith("passbridge: error: ") and err.count("\n") == 1 and said in err, err
    assert _show(capsys, "ada@contoso.example") == before
