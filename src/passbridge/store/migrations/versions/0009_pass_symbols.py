"""the TAP policy may ask for symbols in passes (off: letters and digits only)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tap_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("include_symbols", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("tap_policy", schema=None) as batch_op:
        batch_op.drop_column("include_symbols")
