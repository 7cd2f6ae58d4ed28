"""The migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from passbridge.services.context import Env
from passbridge.store.models import Base


def test_migrated_schema_matches_models(env: Env) -> None:
    with env.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_twice_is_a_no_op_and_reports_head(env: Env) -> None:
    env.db.upgrade()
    assert env.db.current_revision() == env.db.head_revision()
    assert env.db.check_ready() is None
