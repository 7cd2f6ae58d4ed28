"""bulk pass jobs: a run's targets, progress and outcome, its passes sealed until their one download

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 12:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _time(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, passbridge.store.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "bulk_pass_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requested_by_kind", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by_name", sa.String(length=256), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("finished_at", True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        _time("start_at", True),
        sa.Column("lifetime_minutes", sa.Integer(), nullable=True),
        sa.Column("is_usable_once", sa.Boolean(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("keeps_result", sa.Boolean(), nullable=False),
        _time("result_taken_at", True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_pass_job")),
    )
    with op.batch_alter_table("bulk_pass_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_pass_job_requested_by_id"), ["requested_by_id"], unique=False
        )
    op.create_table(
        "bulk_pass_item",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("upn", sa.String(length=400), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pass_id", sa.String(length=36), nullable=True),
        _time("start_at", True),
        _time("expires_at", True),
        sa.Column("is_usable_once", sa.Boolean(), nullable=True),
        sa.Column("sealed_pass", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["bulk_pass_job.id"],
            name=op.f("fk_bulk_pass_item_job_id_bulk_pass_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_bulk_pass_item")),
    )


def downgrade() -> None:
    op.drop_table("bulk_pass_item")
    with op.batch_alter_table("bulk_pass_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_pass_job_requested_by_id"))
    op.drop_table("bulk_pass_job")
