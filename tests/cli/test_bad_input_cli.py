"""The CLI with input that once ended in a traceback: one line on stderr, exit 1, nothing changed.

Bytes in argv that are not UTF-8 reach Python as lone surrogates (surrogateescape), so a surrogate *can*
come through argv; every command would then fail in the database, on a lookup as much as on a write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli, counts
from tests.cli.test_tap_cli import state

ESCAPED = "Ada \udced\udca0\udc80"  # the bytes ED A0 80 as Python decodes argv
LONE = "Ada \ud800"
ONE_LINE_ERROR = "passbridge: error: "


@pytest.fixture
def ada(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "user", "add", "ada@contoso.example")[0] == 0
    assert cli(capsys, "group", "add", "Staff")[0] == 0
    return "ada@contoso.example"


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert (code, out) == (1, ""), err
    assert err.startswith(ONE_LINE_ERROR) and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("bad", [ESCAPED, LONE], ids=["surrogateescape", "lone-surrogate"])
@pytest.mark.parametrize(
    "command",
    [
        ("user", "add", "bob@contoso.example", "--display-name", "{bad}"),
        ("user", "add", "{bad}@contoso.example"),
        ("user", "add", "bob@contoso.example", "--mail", "{bad}@contoso.example"),
        ("user", "show", "{bad}@contoso.example"),
        ("group", "add", "{bad}"),
        ("group", "add", "Other", "--description", "{bad}"),
        ("group", "add-member", "{bad}", "ada@contoso.example"),
        ("role", "assign", "{bad}", "ada@contoso.example"),
        ("tap", "issue", "{bad}@contoso.example"),
        ("tap", "issue", "ada@contoso.example", "--start", "{bad}"),
        ("method", "delete", "ada@contoso.example", "{bad}"),
        ("app", "add", "{bad}"),
    ],
    ids=lambda c: " ".join(c[:2]) + (f" {c[3]}" if len(c) > 3 else ""),
)
def test_an_argument_that_is_not_utf8_is_one_line_and_changes_nothing(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], bad: str
) -> None:
    before = state(cli_env)
    err = _refused(capsys, *(part.replace("{bad}", bad) for part in command))
    assert "surrogate" in err
    assert state(cli_env) == before


def test_bytes_in_a_real_argv_are_one_line(ada: str, cli_env: Settings, tmp_path: Path) -> None:
    """Through a real process: the shell hands over raw bytes, as `$'\\xed\\xa0\\x80'` would."""
    passbridge = Path(sys.executable).with_name("passbridge")
    before = counts(cli_env)
    done = subprocess.run(
        [
            os.fsencode(passbridge),
            b"user",
            b"add",
            b"bob@contoso.example",
            b"--display-name",
            b"Bob \xed\xa0\x80",
        ],
        capture_output=True,
        env={**os.environ},
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.startswith(ONE_LINE_ERROR.encode()) and done.stderr.count(b"\n") == 1, done.stderr
    assert counts(cli_env) == before


@pytest.mark.parametrize(
    ("lifetime", "says"),
    [
        ("9" * 5_000, "out of range"),  # int() refuses past 4,300 digits
        ("9" * 20, "out of range"),
        ("\u00b2", "whole number"),  # '²'.isdigit() is True, int('²') raises
        ("\u0663", "whole number"),  # an Arabic-Indic three
        ("-5", "whole number"),
    ],
    ids=["5000-digits", "20-digits", "superscript-two", "arabic-indic-three", "negative"],
)
def test_tap_issue_refuses_a_lifetime_that_is_no_number_of_minutes(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str], lifetime: str, says: str
) -> None:
    before = state(cli_env)
    assert says in _refused(capsys, "tap", "issue", ada, "--lifetime", lifetime)
    assert state(cli_env) == before


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
)
def test_tap_issue_refuses_a_start_at_the_calendars_edge(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str], start: str
) -> None:
    before = state(cli_env)
    assert "out of range" in _refused(capsys, "tap", "issue", ada, "--start", start)
    assert state(cli_env) == before


@pytest.mark.parametrize(
    "name",
    ["Ada\x00Lovelace", "Ada\x7fLovelace", "Ada\x85Lovelace", "Ada\x1bLovelace"],
    ids=["nul", "del", "c1", "esc"],
)
def test_display_names_with_control_characters_are_refused(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    before = counts(cli_env)
    _refused(capsys, "user", "add", "bob@contoso.example", "--display-name", name)
    assert counts(cli_env) == before


def test_a_group_description_longer_than_graphs_limit_is_refused(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "at most 1024" in _refused(capsys, "group", "add", "Other", "--description", "x" * 1_025)


def test_names_in_any_script_with_emoji_and_marks_are_kept(
    ada: str, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "Zoë Ñúñez-王 👩‍💻 e\u0301"
    code, _, err = cli(capsys, "user", "add", "zoe@contoso.example", "--display-name", name)
    assert code == 0, err
    code, out, _ = cli(capsys, "user", "show", "zoe@contoso.example", "--json")
    assert json.loads(out)["displayName"] == name
