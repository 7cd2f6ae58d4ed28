"""authentication methods policy: version and last change

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_methods_policy",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_modified", passbridge.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_methods_policy")),
    )
    # A store initialised before this revision already has a TAP policy: start its history at 1.
    op.execute(
        "INSERT INTO auth_methods_policy (id, version, last_modified) "
        "SELECT 'authenticationMethodsPolicy', 1, last_modified FROM tap_policy"
    )


def downgrade() -> None:
    op.drop_table("auth_methods_policy")
