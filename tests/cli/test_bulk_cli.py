"""`passbridge tap bulk` and `tap bulk-report`: the result file (created once, 0600, the only place the
passes are), progress on stderr, bad CSV files as one line and a non-zero exit."""

from __future__ import annotations

import csv
import io
import os
import pty
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from passbridge.config import Settings
from passbridge.store.db import Database
from passbridge.store.models import TemporaryAccessPass, User
from tests.cli.test_cli import cli
from tests.cli.test_tap_cli import state
from tests.servers import PASSBRIDGE


@pytest.fixture
def hires(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "group", "add", "New hires")[0] == 0
    names = [f"hire{n}@contoso.example" for n in range(3)]
    for name in names:
        assert cli(capsys, "user", "add", name)[0] == 0
        assert cli(capsys, "group", "add-member", "New hires", name)[0] == 0
    return names


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_bulk_for_a_group_writes_the_passes_to_a_new_0600_file_only(
    hires: list[str], cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "result.csv"
    code, stdout, stderr = cli(capsys, "tap", "bulk", "--group", "New hires", "--out", str(out), "--one-time")
    assert code == 0, stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    got = rows(out)
    assert list(got[0]) == ["upn", "pass", "start", "end", "one-time", "status", "reason"]
    assert [r["upn"] for r in got] == hires
    assert {(r["status"], r["one-time"], len(r["pass"])) for r in got} == {("issued", "yes", 8)}
    for r in got:
        assert r["pass"] not in stdout and r["pass"] not in stderr
    assert "3 issued, 0 refused, of 3" in stdout and "tap bulk-report" in stdout
    # Not a terminal here: plain progress lines on stderr, ending at the total.
    assert stderr.strip().splitlines()[-1] == "passbridge: issued 3 of 3 (100%)"


def test_bulk_from_a_csv_reports_refusals_per_row(
    hires: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    names = tmp_path / "names.csv"
    names.write_text(
        "Name,UPN\nOne,hire0@contoso.example\nGhost,ghost@contoso.example\n,\n", encoding="utf-8-sig"
    )
    out = tmp_path / "result.csv"
    code, _, stderr = cli(capsys, "tap", "bulk", "--csv", str(names), "--out", str(out), "--lifetime", "120")
    assert code == 0, stderr
    got = rows(out)
    assert [(r["upn"], r["status"]) for r in got] == [
        ("hire0@contoso.example", "issued"),
        ("ghost@contoso.example", "refused"),
    ]
    assert got[1]["reason"].startswith("not found:") and got[1]["pass"] == ""


def test_bulk_refuses_an_existing_result_file_and_issues_nothing(
    hires: list[str], cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "result.csv"
    out.write_text("keep me")
    before = state(cli_env)
    code, stdout, stderr = cli(capsys, "tap", "bulk", "--group", "New hires", "--out", str(out))
    assert (code, stdout) == (1, "")
    assert stderr.count("\n") == 1 and "exists already" in stderr
    assert out.read_text() == "keep me" and state(cli_env) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,mail\nAda,ada@contoso.example\n", "no 'upn' column"),
        (b"", "is empty"),
        (b"upn\n", "lists nobody"),
        (b"upn\n\xff\xfeada@contoso.example\n", "not UTF-8"),
        (b"upn\n" + b"a" * (8 * 1024 * 1024), "larger than 8 MiB"),
    ],
)
def test_bulk_refuses_a_bad_csv_in_one_line(
    hires: list[str],
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    names = tmp_path / "names.csv"
    names.write_bytes(content)
    out = tmp_path / "result.csv"
    before = state(cli_env)
    code, stdout, stderr = cli(capsys, "tap", "bulk", "--csv", str(names), "--out", str(out))
    assert (code, stdout) == (1, "")
    assert stderr.count("\n") == 1 and message in stderr, stderr
    assert not out.exists() and state(cli_env) == before


def test_bulk_refused_by_the_policy_leaves_no_file(
    hires: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "result.csv"
    code, _, stderr = cli(capsys, "tap", "bulk", "--group", "New hires", "--out", str(out), "--lifetime", "5")
    assert code == 1 and stderr.count("\n") == 1 and "LifetimeInMinutes" in stderr
    assert not out.exists()


def test_bulk_report_tells_which_passes_were_used(
    hires: list[str], cli_env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "result.csv"
    code, stdout, _ = cli(capsys, "tap", "bulk", "--group", "New hires", "--out", str(out))
    assert code == 0
    job_id = stdout.split("Job ", 1)[1].split(":", 1)[0]
    db = Database(cli_env.effective_database_url)
    try:
        with db.transaction() as tx:
            hire = select(User.id).where(User.upn_key == "hire0@contoso.example").scalar_subquery()
            first = tx.session.scalars(
                select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == hire)
            ).first()
            assert first is not None
            first.used_at = first.start_at
    finally:
        db.dispose()
    code, report, stderr = cli(capsys, "tap", "bulk-report", job_id)
    assert code == 0, stderr
    assert report.splitlines()[0].endswith("(group New hires, done): 2 not used yet, 1 used")
    assert all(r["pass"] not in report for r in rows(out))
    code, _, stderr = cli(capsys, "tap", "bulk-report", "not-a-job")
    assert code == 1 and "No bulk pass job" in stderr


def test_on_a_terminal_the_progress_is_a_bar(hires: list[str], cli_env: Settings, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    terminal, attached = pty.openpty()
    try:
        done = subprocess.run(
            [str(PASSBRIDGE), "tap", "bulk", "--group", "New hires", "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=attached,
            env=dict(os.environ),
            timeout=120,
            check=False,
        )
    finally:
        os.close(attached)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    assert done.returncode == 0, shown
    text = shown.decode()
    assert "Issuing passes" in text and "3/3" in text and "passbridge: issued" not in text
    for row in rows(out):
        assert row["pass"] not in text and row["pass"] not in done.stdout.decode()
