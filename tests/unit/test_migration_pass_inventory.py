"""Migration 0006: a pass issued before it gets its expiry (start + lifetime) and an unknown issuer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from passbridge.store.db import Database


def test_passes_from_before_get_their_expiry_and_no_issuer(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    config = db._alembic_config()
    try:
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
            connection.execute(
                text(
                    "INSERT INTO app_user (id, user_principal_name, upn_key, display_name, mail,"
                    " account_enabled, created_at, sessions_valid_from) VALUES ('u1', 'a@x.example',"
                    " 'a@x.example', 'A', NULL, 1, '2026-12-01 09:00:00.000000',"
                    " '2026-12-01 09:00:00.000000')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO temporary_access_pass (id, user_id, created_at, start_at, lifetime_minutes,"
                    " is_usable_once, secret_hash, used_at, last_used_at) VALUES ('p1', 'u1',"
                    " '2026-12-01 09:00:00.000000', '2026-12-01 10:30:00.000000', 90, 0, 'h', NULL, NULL)"
                )
            )
        db.upgrade()
        with db.engine.connect() as connection:
            row = connection.execute(
                text("SELECT expires_at, created_by_id, created_by_name FROM temporary_access_pass")
            ).one()
    finally:
        db.dispose()
    assert datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert row[1] is None and row[2] is None
