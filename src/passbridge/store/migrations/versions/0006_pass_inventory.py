"""passes carry their expiry and who issued them: the admin portal's inventory of live passes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 11:00:00.000000
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PASSES = sa.table(
    "temporary_access_pass",
    sa.column("id", sa.String(length=36)),
    sa.column("start_at", passbridge.store.models.UTCDateTime(timezone=True)),
    sa.column("lifetime_minutes", sa.Integer()),
    sa.column("expires_at", passbridge.store.models.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("temporary_access_pass", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expires_at", passbridge.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("created_by_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("created_by_name", sa.String(length=256), nullable=True))
    # Each pass's end, as every read computed it (start + lifetime); at most one pass per user, so few rows.
    # Who issued a pass before now is not known: the inventory says so.
    connection = op.get_bind()
    for pass_id, start_at, minutes in connection.execute(
        sa.select(_PASSES.c.id, _PASSES.c.start_at, _PASSES.c.lifetime_minutes)
    ).all():
        connection.execute(
            _PASSES.update()
            .where(_PASSES.c.id == pass_id)
            .values(expires_at=start_at + timedelta(minutes=minutes))
        )
    with op.batch_alter_table("temporary_access_pass", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=passbridge.store.models.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.create_index(batch_op.f("ix_temporary_access_pass_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("temporary_access_pass", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temporary_access_pass_expires_at"))
        batch_op.drop_column("created_by_name")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("expires_at")
