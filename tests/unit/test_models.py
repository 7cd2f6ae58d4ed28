"""store/models.py: UTCDateTime's one-step SQLite bind writes what SQLAlchemy's two steps wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from passbridge.store.models import UTCDateTime

SQLITE = sqlite.dialect()


def sqlalchemys_text(value: datetime) -> str:
    naive = UTCDateTime().process_bind_param(value, SQLITE)
    process = DateTime(timezone=True).dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    text: str = process(naive)
    return text


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_the_sqlite_text_is_sqlalchemys_default_storage_format(value: datetime, offset_minutes: int) -> None:
    process = UTCDateTime().bind_processor(SQLITE)
    assert process is not None
    elsewhere = value.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert process(elsewhere) == sqlalchemys_text(elsewhere)


def test_whole_seconds_keep_their_six_zero_microseconds_and_none_stays_none() -> None:
    process = UTCDateTime().bind_processor(SQLITE)
    assert process is not None
    assert process(datetime(2026, 11, 30, 7, 5, tzinfo=UTC)) == "2026-11-30 07:05:00.000000"
    assert process(None) is None


def test_naive_datetimes_are_refused_as_before() -> None:
    process = UTCDateTime().bind_processor(SQLITE)
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 1, 1))


def test_postgresql_keeps_sqlalchemys_processing() -> None:
    dialect = postgresql.dialect()
    value = datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=2)))
    process = UTCDateTime().bind_processor(dialect)
    bound = process(value) if process is not None else value
    assert bound == value and bound.utcoffset() == timedelta(0)
