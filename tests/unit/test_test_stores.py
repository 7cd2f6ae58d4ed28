"""The stores the test fixtures hand out (a copied SQLite file, a replayed PostgreSQL migration) are the
stores that migrating a new one gives: the shortcut must not change what every other test runs on."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, table, text

from passbridge.store.db import Database
from tests.pg import fresh_schema


def describe(url: str) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, its row count, and the schema revision."""
    db = Database(url)
    try:
        with db.engine.connect() as conn, warnings.catch_warnings():
            # SQLAlchemy does not reflect SQLite's expression indexes: their SQL is compared below.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            found = inspect(conn)
            tables: dict[str, Any] = {}
            for name in sorted(found.get_table_names()):
                tables[name] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in found.get_columns(name)
                    ],
                    "pk": found.get_pk_constraint(name),
                    "fks": sorted(found.get_foreign_keys(name), key=repr),
                    "indexes": sorted((_plain(i) for i in found.get_indexes(name)), key=repr),
                    "unique": sorted(found.get_unique_constraints(name), key=repr),
                    "checks": sorted(found.get_check_constraints(name), key=repr),
                    "rows": conn.scalar(select(func.count()).select_from(table(name))),
                }
                if db.dialect == "sqlite":
                    query = text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
                    tables[name]["index_sql"] = sorted(tuple(row) for row in conn.execute(query, {"t": name}))
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
        return {"tables": tables, "revision": revision}
    finally:
        db.dispose()


def _plain(index: Any) -> dict[str, Any]:
    """An index as reflected, its dialect options (a partial index's WHERE is a TextClause, compared by
    identity) as their SQL text."""
    options = {k: str(v) for k, v in index.get("dialect_options", {}).items()}
    return {**index, "dialect_options": options}


@contextmanager
def migrated_afresh(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        with _upgraded(f"sqlite:///{tmp_path / 'migrated-afresh.db'}") as url:
            yield url
        return
    with fresh_schema() as schema_url, _upgraded(schema_url) as url:
        yield url


@contextmanager
def _upgraded(url: str) -> Iterator[str]:
    db = Database(url)
    try:
        db.upgrade()
    finally:
        db.dispose()
    yield url


def test_a_tests_store_is_the_store_a_fresh_migration_gives(database_url: str, tmp_path: Path) -> None:
    with migrated_afresh(database_url, tmp_path) as fresh:
        expected = describe(fresh)
    assert expected["tables"], "the fresh migration made no tables"
    assert describe(database_url) == expected
