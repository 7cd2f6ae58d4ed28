"""Every option error of the CLI is one line on stderr and a non-zero exit (cli/base.py): click's usage
errors (unknown option, value not of the option's type or range, missing argument) and values past what
a date or a column holds, never click's three-line usage block nor a traceback."""

from __future__ import annotations

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli

HUGE = "99999999999999999999999"


def _one_line(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = cli(capsys, *args)
    assert code != 0 and out == "", (code, out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("passbridge: error: "), err
    return code, err


@pytest.mark.parametrize(
    ("args", "said", "where"),
    [
        (
            ("policy", "set", "--default-lifetime", "abc"),
            "'--default-lifetime': 'abc' is not a valid integer",
            "policy set",
        ),
        (("policy", "set", "--state", "maybe"), "'--state': 'maybe' is not one of", "policy set"),
        (("policy", "set", "--nope"), "No such option '--nope'", "policy set"),
        (("nocmd",), "No such command 'nocmd'", ""),
        (("user", "add"), "Missing argument 'UPN'", "user add"),
        (("audit", "list", "--top", HUGE), f"'--top': {HUGE} is not in the range", "audit list"),
        (("serve", "--port", HUGE), f"'--port': {HUGE} is not in the range", "serve"),
    ],
    ids=[
        "not-an-int",
        "not-a-choice",
        "unknown-option",
        "unknown-command",
        "missing-argument",
        "top",
        "port",
    ],
)
def test_a_usage_error_is_one_line_naming_the_commands_help(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], said: str, where: str
) -> None:
    code, err = _one_line(capsys, *args)
    assert code == 2 and said in err
    help_of = f"passbridge {where}".strip()
    assert err.endswith(f"(see '{help_of} --help')\n"), err


@pytest.mark.parametrize("option", ["--publish-ahead", "--keep-old-for"])
def test_key_rotation_minutes_past_any_date_are_a_usage_error_not_a_traceback(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    code, err = _one_line(capsys, "keys", "rotate", option, HUGE)
    assert code == 2 and f"'{option}': {HUGE} is not in the range" in err


@pytest.mark.parametrize(
    "args",
    [
        ("policy", "set", "--default-lifetime", HUGE),
        ("policy", "set", "--default-length", HUGE),
        ("tap", "issue", "admin@contoso.example", "--lifetime", HUGE),
    ],
    ids=["default-lifetime", "default-length", "tap-lifetime"],
)
def test_a_huge_integer_option_is_one_line_on_an_initialised_store(
    cli_env: Settings, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    code, err = _one_line(capsys, *args)
    assert code == 1 and ("between" in err or "out of range" in err), err
