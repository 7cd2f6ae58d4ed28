"""`passbridge backup` while a real server writes without pause, and `passbridge restore` of what it took:
the copy is one moment of the store (SQLite's online backup in one step), whole and consistent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import PASSBRIDGE, ServedStore, served_store

WRITERS = 3


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    with served_store(
        tmp_path / "live", "User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"
    ) as served:
        yield served


def write_until(server: ServedStore, stop: threading.Event, writer: int, done: list[int]) -> None:
    """Add users and issue each a pass through the Graph API: each is a user row and an audit entry in
    one transaction, then a pass row and another audit entry in a second."""
    headers = {"Authorization": f"Bearer {server.app_token()}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        n = 0
        while not stop.is_set():
            upn = f"w{writer}-{n}@contoso.example"
            body = {
                "accountEnabled": True,
                "displayName": upn,
                "mailNickname": f"w{writer}n{n}",
                "userPrincipalName": upn,
            }
            assert client.post("/v1.0/users", json=body).status_code == 201
            issued = client.post(f"/v1.0/users/{upn}/authentication/temporaryAccessPassMethods", json={})
            assert issued.status_code == 201, issued.text
            n += 1
        done.append(n)


def census(database: Path) -> dict[str, int]:
    """The store's rows, and how each pair that one transaction writes together stands."""
    with sqlite3.connect(database) as db:

        def count(where: str = "", table: str = "audit_entry") -> int:
            return int(db.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0])

        user_ids = {row[0] for row in db.execute("SELECT id FROM app_user")}
        targets = [json.loads(row[0]) for row in db.execute("SELECT target_resources FROM audit_entry")]
        return {
            "users": count(table="app_user"),
            "passes": count(table="temporary_access_pass"),
            "user audits": count("WHERE activity_display_name = 'Add user'"),
            "pass audits": count("WHERE activity_display_name = 'Admin registered security info'"),
            # An audit entry naming a user the copy lacks: a store torn between two moments.
            "orphaned audit targets": sum(
                1 for entry in targets for t in entry if t["type"] == "User" and t["id"] not in user_ids
            ),
        }


def restored(server: ServedStore, backup: Path, data_dir: Path) -> Path:
    environ = {**server.environ, "PASSBRIDGE_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [str(PASSBRIDGE), "restore", str(backup), "--yes"], env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(PASSBRIDGE), "user", "list", "--json"], env=environ, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    return data_dir / "passbridge.db"


@pytest.mark.multi
def test_a_backup_taken_under_write_load_restores_to_one_consistent_moment(
    server: ServedStore, tmp_path: Path
) -> None:
    live = Path(server.environ["PASSBRIDGE_DATA_DIR"]) / "passbridge.db"
    start = census(live)
    stop = threading.Event()
    done: list[int] = []
    writers = [threading.Thread(target=write_until, args=(server, stop, w, done)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    backups = []
    try:
        for n in range(2):
            time.sleep(1.5)
            backup = tmp_path / f"backup-{n}.db"
            taken = subprocess.run(
                [str(PASSBRIDGE), "backup", str(backup)], env=server.environ, capture_output=True, text=True
            )
            assert taken.returncode == 0, taken.stderr
            backups.append(backup)
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=60)
    assert len(done) == WRITERS  # every writer ran to the end without a failed request
    final = census(live)
    # Whatever init wrote pairs up the same way; the writers added to both sides of each pair alike.
    user_offset = final["users"] - final["user audits"]
    pass_offset = final["passes"] - final["pass audits"]
    seen = []
    for n, backup in enumerate(backups):
        copy = restored(server, backup, tmp_path / f"restored-{n}")
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        found = census(copy)
        assert found["orphaned audit targets"] == 0
        assert found["users"] - found["user audits"] == user_offset, found
        assert found["passes"] - found["pass audits"] == pass_offset, found
        # Taken while the writers were at it: after some of their work, before the end of it.
        assert start["users"] < found["users"] < final["users"], (start, found, final)
        seen.append(found["users"])
    assert seen[0] < seen[1]
