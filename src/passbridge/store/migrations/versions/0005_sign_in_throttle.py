"""sign-in throttle counters replace the failure rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 07:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", passbridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_at", passbridge.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttle")),
    )
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_throttle_last_at"), ["last_at"], unique=False)
    # Failures counted the old way (per user and per address in a sliding window) start afresh: the
    # counters they would become are at most a window's worth of attempts.
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failure_user_id"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failure_ip_address"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failure_at"))
    op.drop_table("sign_in_failure")


def downgrade() -> None:
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("at", passbridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_sign_in_failure_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failure_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_failure_ip_address"), ["ip_address"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_failure_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttle_last_at"))
    op.drop_table("sign_in_throttle")
