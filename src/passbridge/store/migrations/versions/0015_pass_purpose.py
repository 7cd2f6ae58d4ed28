"""purpose-bound passes: a pass's purpose and attempts, the policy's enforced purpose and its revoking of
multi-use passes, and the purpose of the pass a session began with

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("temporary_access_pass") as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=16), nullable=False, server_default="signIn")
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tap_policy") as batch_op:
        batch_op.add_column(sa.Column("enforced_purpose", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "revoke_multi_use_after_passkey", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.add_column(sa.Column("pass_purpose", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.drop_column("pass_purpose")
    with op.batch_alter_table("tap_policy") as batch_op:
        batch_op.drop_column("revoke_multi_use_after_passkey")
        batch_op.drop_column("enforced_purpose")
    with op.batch_alter_table("temporary_access_pass") as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("purpose")
