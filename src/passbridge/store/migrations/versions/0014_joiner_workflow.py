"""joiner workflow: its settings, one run per user, and users by creation time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passbridge.store.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "joiner_settings",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("lifetime_minutes", sa.Integer(), nullable=True),
        sa.Column("is_usable_once", sa.Boolean(), nullable=False),
        sa.Column("mail_private", sa.Boolean(), nullable=False),
        sa.Column("enabled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_modified", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joiner_settings")),
    )
    op.create_table(
        "joiner_run",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("pass_id", sa.String(length=36), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_joiner_run_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_joiner_run")),
    )
    op.create_index(op.f("ix_joiner_run_processed_at"), "joiner_run", ["processed_at"], unique=False)
    op.create_index(op.f("ix_app_user_created_at"), "app_user", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_user_created_at"), table_name="app_user")
    op.drop_index(op.f("ix_joiner_run_processed_at"), table_name="joiner_run")
    op.drop_table("joiner_run")
    op.drop_table("joiner_settings")
