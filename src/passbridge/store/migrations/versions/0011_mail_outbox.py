"""mail: the outbox, "This wasn't me" links, a pass's reason, the TAP policy's requireReason

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, passbridge.store.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=False),
        sa.Column("text_sealed", sa.Text(), nullable=True),
        sa.Column("html_sealed", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("next_attempt_at"),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        _time("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False)
    op.create_table(
        "pass_notice_link",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("pass_id", sa.String(length=36), nullable=False),
        sa.Column("issued_by", sa.String(length=256), nullable=True),
        _time("issued_at"),
        sa.Column("reason", sa.String(length=256), nullable=True),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_pass_notice_link_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_pass_notice_link")),
    )
    with op.batch_alter_table("pass_notice_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pass_notice_link_pass_id"), ["pass_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pass_notice_link_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("tap_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("require_reason", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("temporary_access_pass", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("temporary_access_pass", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("tap_policy", schema=None) as batch_op:
        batch_op.drop_column("require_reason")
    op.drop_table("pass_notice_link")
    op.drop_table("outbox")
