"""dual control for issuing passes: its settings and the requests awaiting a second administrator

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 15:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passbridge.store.models import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pass_approval_settings",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("for_role_holders", sa.Boolean(), nullable=False),
        sa.Column("lifetime_threshold_minutes", sa.Integer(), nullable=True),
        sa.Column("request_expiry_minutes", sa.Integer(), nullable=False),
        sa.Column("collect_within_minutes", sa.Integer(), nullable=False),
        sa.Column("last_modified", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_approval_settings")),
    )
    op.create_table(
        "pass_approval_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requester_kind", sa.String(length=16), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=True),
        sa.Column("requester_name", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("start_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifetime_minutes", sa.Integer(), nullable=False),
        sa.Column("is_usable_once", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("why", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("collect_by", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approver_id", sa.String(length=64), nullable=True),
        sa.Column("approver_name", sa.String(length=256), nullable=True),
        sa.Column("decision_note", sa.String(length=256), nullable=True),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("pass_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_pass_approval_request_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_approval_request")),
    )
    op.create_index(
        op.f("ix_pass_approval_request_user_id"), "pass_approval_request", ["user_id"], unique=False
    )
    op.create_index(op.f("ix_pass_approval_request_state"), "pass_approval_request", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pass_approval_request_state"), table_name="pass_approval_request")
    op.drop_index(op.f("ix_pass_approval_request_user_id"), table_name="pass_approval_request")
    op.drop_table("pass_approval_request")
    op.drop_table("pass_approval_settings")
