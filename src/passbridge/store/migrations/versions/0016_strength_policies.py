"""custom authentication strengths: Graph's authenticationStrengthPolicy, built-in ones live in code

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passbridge.store.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authentication_strength_policy",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("name_key", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("allowed_combinations", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authentication_strength_policy")),
        sa.UniqueConstraint("name_key", name=op.f("uq_authentication_strength_policy_name_key")),
    )


def downgrade() -> None:
    op.drop_table("authentication_strength_policy")
