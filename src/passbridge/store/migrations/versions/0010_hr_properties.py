"""users carry what HR systems set: employee id and type, hire date, department, job title, company,
office, usage location, mobile phone, other mails, SCIM's externalId and the manager

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passbridge.store.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (column, length): each is filtered with eq and startswith on lower(), as displayName is (migration 0008).
_TEXT = (
    ("employee_id", 64),
    ("employee_type", 64),
    ("department", 64),
    ("job_title", 128),
    ("company_name", 64),
    ("office_location", 128),
    ("usage_location", 2),
    ("mobile_phone", 64),
)
_MANAGER_FK = "fk_app_user_manager_id_app_user"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        for name, length in _TEXT:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
        batch_op.add_column(
            sa.Column("employee_hire_date", passbridge.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("other_mails", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("external_id", sa.String(length=256), nullable=True))
    if postgresql:
        op.add_column("app_user", sa.Column("manager_id", sa.String(length=36), nullable=True))
        op.create_foreign_key(
            _MANAGER_FK, "app_user", "app_user", ["manager_id"], ["id"], ondelete="SET NULL"
        )
    else:
        # SQLite adds a column with a REFERENCES clause in place; batch mode would rebuild the table, and
        # the rebuild drops the expression indexes SQLite cannot reflect (migration 0008's).
        op.execute(
            f"ALTER TABLE app_user ADD COLUMN manager_id VARCHAR(36) CONSTRAINT {_MANAGER_FK} "
            "REFERENCES app_user (id) ON DELETE SET NULL"
        )
    for name in ("employee_hire_date", "external_id", "manager_id"):
        op.create_index(f"ix_app_user_{name}", "app_user", [name], unique=False)
    # $orderby=displayName pages along it, in any case.
    op.create_index(
        "ix_app_user_display_name_order", "app_user", [sa.text("lower(display_name)"), "id"], unique=False
    )
    opclass = " text_pattern_ops" if postgresql else ""
    for name, _length in _TEXT:
        op.create_index(
            f"ix_app_user_{name}_lower", "app_user", [sa.text(f"lower({name}){opclass}")], unique=False
        )


def downgrade() -> None:
    for name, _length in reversed(_TEXT):
        op.drop_index(f"ix_app_user_{name}_lower", table_name="app_user")
    op.drop_index("ix_app_user_display_name_order", table_name="app_user")
    for name in ("manager_id", "external_id", "employee_hire_date"):
        op.drop_index(f"ix_app_user_{name}", table_name="app_user")
    # In place on both (SQLite 3.35+ drops a column no index or constraint of another names; PostgreSQL
    # drops manager_id's foreign key with it): batch mode's rebuild would lose migration 0008's indexes.
    dropped = ("manager_id", "external_id", "other_mails", "employee_hire_date", *(n for n, _ in _TEXT))
    for name in dropped:
        op.drop_column("app_user", name)
