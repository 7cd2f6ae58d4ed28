"""store/db.py `read_json`: SQLite's JSON columns decoded by orjson read back exactly as json.loads read
them, including what json.dumps stores that orjson alone refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select

from passbridge.store.db import make_engine, read_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits orjson makes floats of them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # lone surrogates included: json.dumps escapes them, orjson refuses the escapes
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20
)


@settings(max_examples=500)
@given(values)
def test_every_value_json_dumps_stores_reads_back_as_json_loads_reads_it(value: Any) -> None:
    text = json.dumps(value)
    assert read_json(text) == json.loads(text)
    assert json.dumps(read_json(text)) == text


def test_nan_and_infinity_that_json_dumps_writes_still_read_back() -> None:
    read = read_json(json.dumps([math.nan, math.inf, -math.inf]))
    assert math.isnan(read[0]) and read[1:] == [math.inf, -math.inf]


def test_a_sqlite_json_column_with_a_lone_surrogate_reads_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'json.db'}")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))
    table.metadata.create_all(engine)
    stored = {"displayName": "Ada \ud800 Lovelace", "roles": ["a", "é", "😀"], "n": 2**65}
    with engine.begin() as connection:
        connection.execute(insert(table).values(id=1, doc=stored))
        assert connection.execute(select(table.c.doc)).scalar_one() == stored
    engine.dispose()
