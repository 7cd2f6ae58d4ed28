"""self-service recovery: requests (at most one open per user) and their rate-limit counters

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passbridge.store.models import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("route_reason", sa.String(length=256), nullable=True),
        sa.Column("manager_id", sa.String(length=36), nullable=True),
        sa.Column("link_hash", sa.String(length=128), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.String(length=64), nullable=True),
        sa.Column("decided_by_name", sa.String(length=256), nullable=True),
        sa.Column("decided_via", sa.String(length=16), nullable=True),
        sa.Column("pass_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_recovery_request_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_request")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_recovery_request_link_hash")),
    )
    op.create_index(op.f("ix_recovery_request_user_id"), "recovery_request", ["user_id"], unique=False)
    op.create_index(op.f("ix_recovery_request_created_at"), "recovery_request", ["created_at"], unique=False)
    op.create_index(
        "ix_recovery_request_open_user",
        "recovery_request",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("state = 'open'"),
        sqlite_where=sa.text("state = 'open'"),
    )
    op.create_table(
        "recovery_limit",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("window_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_recovery_limit")),
    )


def downgrade() -> None:
    op.drop_table("recovery_limit")
    op.drop_index("ix_recovery_request_open_user", table_name="recovery_request")
    op.drop_index(op.f("ix_recovery_request_created_at"), table_name="recovery_request")
    op.drop_index(op.f("ix_recovery_request_user_id"), table_name="recovery_request")
    op.drop_table("recovery_request")
