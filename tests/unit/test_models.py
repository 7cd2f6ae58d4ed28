"""store/models.py: UTCDateTime's one-step SQLite bind and read give what SQLAlchemy's two steps gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

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


def sqlalchemys_read(text: str | None) -> datetime | None:
    # TypeDecorator's own composition: the DATETIME impl's parse, then process_result_value.
    process = TypeDecorator.result_processor(UTCDateTime().dialect_impl(SQLITE), SQLITE, None)
    assert process is not None
    value: datetime | None = process(text)
    return value


@given(
    st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.sampled_from(["", "+00:00", "+02:00", "-05:30"]),
)
def test_reading_sqlite_text_gives_what_sqlalchemys_two_steps_gave(value: datetime, suffix: str) -> None:
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert process is not None
    # What our bind writes, and the zoned text an older writer or a hand-made row might hold.
    text = value.replace(tzinfo=None).isoformat(" ", "microseconds") + suffix
    read = process(text)
    assert read == sqlalchemys_read(text)
    assert read is not None and read.tzinfo is UTC
    assert process(None) is None and sqlalchemys_read(None) is None
