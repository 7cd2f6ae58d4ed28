"""indexes for the directory's searches and the logs' filters at 100,000 users

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 10:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# (index, table, expression): expression indexes on lower(), the same lower() the filters have always
# run, so no column is added and nothing needs backfilling. On PostgreSQL the pattern opclass lets
# `lower(x) LIKE 'p%'` use the index whatever the database's collation (SQLite ranges over it instead).
_LOWERED = (
    ("ix_app_user_display_name_lower", "app_user", "lower(display_name)"),
    ("ix_app_user_mail_lower", "app_user", "lower(mail)"),
    ("ix_app_group_display_name_lower", "app_group", "lower(display_name)"),
    # A description may be longer than a PostgreSQL index entry holds: its first 200 characters.
    ("ix_app_group_description_head", "app_group", "substr(lower(description), 1, 200)"),
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table, expression in _LOWERED:
        opclass = " text_pattern_ops" if postgresql else ""
        op.create_index(name, table, [sa.text(expression + opclass)], unique=False)
    if postgresql:
        op.create_index(
            "ix_app_user_upn_key_pattern",
            "app_user",
            ["upn_key"],
            unique=False,
            postgresql_ops={"upn_key": "varchar_pattern_ops"},
        )
    op.create_index(
        "ix_app_user_account_enabled_upn_key", "app_user", ["account_enabled", "upn_key"], unique=False
    )
    op.create_index(
        "ix_sign_in_log_user_principal_name_lower",
        "sign_in_log",
        [sa.text("lower(user_principal_name)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_log_user_principal_name_lower", table_name="sign_in_log")
    op.drop_index("ix_app_user_account_enabled_upn_key", table_name="app_user")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_app_user_upn_key_pattern", table_name="app_user")
    for name, table, _expression in reversed(_LOWERED):
        op.drop_index(name, table_name=table)
