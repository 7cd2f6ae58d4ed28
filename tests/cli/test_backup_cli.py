"""`passbridge backup` and `restore` in process: what they refuse, the files they write, the migration
they bring a restored store to (tests/multi/test_backup_under_load.py takes one while a server writes)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from alembic import command

from passbridge.store.db import Database
from tests.cli.test_cli import cli
from tests.conftest import copy_sqlite_template
from tests.servers import TEST_PEPPER

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture) -> Path:
    """An initialised SQLite store in tmp_path/live, the CLI pointed at it."""
    data = tmp_path / "live"
    copy_sqlite_template(sqlite_template, data / "passbridge.db")
    point_at(monkeypatch, data)
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "user", "add", "ada@contoso.example")[0] == 0
    return data


def point_at(monkeypatch: pytest.MonkeyPatch, data: Path, pepper: str = TEST_PEPPER) -> None:
    monkeypatch.setenv("PASSBRIDGE_DATA_DIR", str(data))
    monkeypatch.delenv("PASSBRIDGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("PASSBRIDGE_PEPPER", pepper)


def users(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return sorted(r[0] for r in connection.execute("SELECT user_principal_name FROM app_user"))


def test_backup_writes_a_new_owner_only_file_and_never_overwrites(
    live: Path, tmp_path: Path, capsys: Capture
) -> None:
    target = tmp_path / "b.db"
    code, out, _ = cli(capsys, "backup", str(target))
    assert code == 0
    assert "pepper" in out  # the note that the pepper is backed up on its own
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert users(target) == ["ada@contoso.example", "admin@contoso.example"]
    assert not Path(f"{target}-wal").exists()  # one self-contained file
    before = target.read_bytes()
    code, out, err = cli(capsys, "backup", str(target))
    assert (code, out) == (1, "")
    assert err == f"passbridge: error: {target} exists; backup never overwrites a file\n"
    assert target.read_bytes() == before


def test_backup_and_restore_of_a_postgresql_store_name_pg_dump(
    monkeypatch: pytest.MonkeyPatch, capsys: Capture, tmp_path: Path
) -> None:
    monkeypatch.setenv("PASSBRIDGE_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:1/db")
    code, _, err = cli(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 1 and "pg_dump" in err and err.count("\n") == 1
    (tmp_path / "b.db").write_bytes(b"")
    code, _, err = cli(capsys, "restore", str(tmp_path / "b.db"), "--yes")
    assert code == 1 and "pg_restore" in err and err.count("\n") == 1
    assert not (tmp_path / "b.db").read_bytes()


def test_restore_needs_yes_when_nobody_can_answer(live: Path, tmp_path: Path, capsys: Capture) -> None:
    target = tmp_path / "b.db"
    assert cli(capsys, "backup", str(target))[0] == 0
    assert cli(capsys, "user", "add", "bob@contoso.example")[0] == 0
    code, _, err = cli(capsys, "restore", str(target))  # pytest's stdin is no terminal
    assert code == 1 and "--yes" in err and err.count("\n") == 1
    assert "bob@contoso.example" in users(live / "passbridge.db")


def test_restore_replaces_the_store_with_the_backup(live: Path, tmp_path: Path, capsys: Capture) -> None:
    target = tmp_path / "b.db"
    assert cli(capsys, "backup", str(target))[0] == 0
    assert cli(capsys, "user", "add", "bob@contoso.example")[0] == 0
    code, _, err = cli(capsys, "restore", str(target), "--yes")
    assert code == 0, err
    assert users(live / "passbridge.db") == ["ada@contoso.example", "admin@contoso.example"]
    assert cli(capsys, "user", "show", "ada@contoso.example")[0] == 0
    assert not [p for p in live.iterdir() if p.name.startswith(".restore-")]


def test_restore_refuses_what_is_not_a_passbridge_store(live: Path, tmp_path: Path, capsys: Capture) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (text)")
    (tmp_path / "text.db").write_text("not a database at all, just some text " * 50)
    for file, reason in (
        (other, "is not a Passbridge store"),
        (tmp_path / "text.db", "is not a SQLite database"),
    ):
        code, _, err = cli(capsys, "restore", str(file), "--yes")
        assert code == 1 and reason in err and err.count("\n") == 1
    assert "ada@contoso.example" in users(live / "passbridge.db")


def test_restore_refuses_a_backup_whose_keys_this_pepper_cannot_open(
    live: Path, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "b.db"
    assert cli(capsys, "backup", str(target))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    point_at(monkeypatch, elsewhere, pepper="another-pepper-" + "y" * 40)
    code, _, err = cli(capsys, "restore", str(target), "--yes")
    assert code == 1 and "pepper" in err and err.count("\n") == 1
    assert not (elsewhere / "passbridge.db").exists()


def test_restore_migrates_an_older_backup_to_this_version(
    live: Path, tmp_path: Path, capsys: Capture
) -> None:
    older = tmp_path / "older" / "passbridge.db"
    copy_sqlite_template(live / "passbridge.db", older)
    database = Database(f"sqlite:///{older}")
    try:
        head = database.head_revision()
        config = database._alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "-1")
        previous = database.current_revision()
    finally:
        database.dispose()
    assert previous != head
    backup = tmp_path / "older.db"
    copy_sqlite_template(older, backup)
    code, out, err = cli(capsys, "restore", str(backup), "--yes")
    assert code == 0, err
    assert f"(migration {previous}, migrated to {head})" in out
    with sqlite3.connect(live / "passbridge.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
    assert cli(capsys, "user", "show", "ada@contoso.example")[0] == 0
