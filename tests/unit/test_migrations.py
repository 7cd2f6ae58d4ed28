"""The migrations and the models describe the same schema, on both databases."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, ForeignKeyConstraint, Index, text
from sqlalchemy.schema import CreateIndex, SchemaItem

from passbridge.services.context import Env
from passbridge.store.models import Base


def _meant_for(index: Index, dialect: str) -> bool:
    """Whether the models create `index` on `dialect` (`Index.ddl_if`, which Alembic does not read)."""
    only = index._ddl_if  # where SQLAlchemy keeps ddl_if's condition; nothing public reads it
    return only is None or only.dialect in (None, dialect)


def _on_expressions(index: Index) -> bool:
    return any(not isinstance(e, Column) for e in index.expressions)


def test_migrated_schema_matches_models(env: Env) -> None:
    dialect = env.db.dialect

    def compared(item: SchemaItem, _name: str | None, kind: str, reflected: bool, _other: object) -> bool:
        if kind == "foreign_key_constraint" and dialect == "sqlite" and _added_inline(item):
            return False  # the test below compares those
        if kind != "index" or reflected or not isinstance(item, Index):
            return True
        # SQLAlchemy cannot reflect SQLite's expression indexes: the next test compares those.
        return _meant_for(item, dialect) and not (dialect == "sqlite" and _on_expressions(item))

    with env.db.engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": compared}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


# Foreign keys a migration added to an existing SQLite table with ALTER TABLE ADD COLUMN ... REFERENCES
# (rebuilding the table would lose its expression indexes, and its DROP would cascade): SQLAlchemy reads
# the name and ON DELETE of table-level FOREIGN KEY clauses only.
_INLINE_FKS = {("app_user", "manager_id")}


def _added_inline(item: SchemaItem) -> bool:
    if not isinstance(item, ForeignKeyConstraint) or item.table is None:
        return False
    return {(item.table.name, c.name) for c in item.columns} <= _INLINE_FKS


def test_sqlite_inline_foreign_keys_match_models(env: Env) -> None:
    if env.db.dialect != "sqlite":
        pytest.skip("PostgreSQL reflects every foreign key: the first test compares them")
    wanted = set()
    for table_name, column_name in _INLINE_FKS:
        (key,) = Base.metadata.tables[table_name].c[column_name].foreign_keys
        action = key.ondelete or "NO ACTION"
        wanted.add((table_name, column_name, key.column.table.name, key.column.name, action))
    with env.db.engine.connect() as connection:
        found = {
            (table_name, row[3], row[2], row[4], row[6])
            for table_name, _column in _INLINE_FKS
            for row in connection.execute(text(f"PRAGMA foreign_key_list({table_name})"))
            if (table_name, row[3]) in _INLINE_FKS
        }
    assert found == wanted


def test_sqlite_expression_indexes_match_models(env: Env) -> None:
    if env.db.dialect != "sqlite":
        pytest.skip("PostgreSQL's expression indexes are reflected: the test above compares them")
    dialect = env.db.engine.dialect
    wanted = {
        index.name: str(CreateIndex(index).compile(dialect=dialect))
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if _on_expressions(index)
    }
    with env.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all()
    found = {name: sql for name, sql in rows if name in wanted}
    assert found == wanted


def test_upgrade_twice_is_a_no_op_and_reports_head(env: Env) -> None:
    env.db.upgrade()
    assert env.db.current_revision() == env.db.head_revision()
    assert env.db.check_ready() is None
