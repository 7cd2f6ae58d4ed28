"""The test PostgreSQL server: PASSBRIDGE_TEST_PG_URL, which scripts/test (and so .ci/run) sets after
starting the machine's server with pg_ctlcluster. Each test that uses it gets a schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("PASSBRIDGE_TEST_PG_URL")


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A database URL whose connections work in a new, empty schema (their search_path), dropped with
    everything in it afterwards. Skips the test when no PostgreSQL is configured."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set PASSBRIDGE_TEST_PG_URL (scripts/test does)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
