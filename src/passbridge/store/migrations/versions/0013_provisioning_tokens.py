"""provisioning tokens (the bearer tokens SCIM clients present) and groups' SCIM externalId

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passbridge.store.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioning_token",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_token")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_provisioning_token_secret_hash")),
    )
    with op.batch_alter_table("app_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=256), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_group_external_id"), ["external_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("app_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_group_external_id"))
        batch_op.drop_column("external_id")
    op.drop_table("provisioning_token")
