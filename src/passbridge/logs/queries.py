"""What the two logs' searches share (audit_queries.py, signin_log_queries.py): time comparisons
from a $filter, and pages ordered by time with the id breaking ties, so that paging is stable on both
databases when entries share a timestamp. A page starts after the previous page's last entry (its
`EntryKey`), a range of the time index, so the thousandth page costs what the first does."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, or_
from sqlalchemy.orm import InstrumentedAttribute

from passbridge.store.tx import Tx

T = TypeVar("T")

# (time, id) of an entry: where the next page starts.
EntryKey = tuple[datetime, str]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ge": operator.ge,
    "le": operator.le,
    "gt": operator.gt,
    "lt": operator.lt,
}


def at_times(
    query: Select[tuple[T]], column: InstrumentedAttribute[datetime], times: Iterable[tuple[str, datetime]]
) -> Select[tuple[T]]:
    """`column op when` for each (op, when): eq, ge, le, gt or lt."""
    for op, when in times:
        query = query.where(_OPERATORS[op](column, when))
    return query


def page(
    tx: Tx,
    query: Select[tuple[T]],
    *,
    time: InstrumentedAttribute[datetime],
    entry_id: InstrumentedAttribute[str],
    after: EntryKey | None,
    limit: int,
    oldest_first: bool,
) -> list[T]:
    if oldest_first:
        order = (time.asc(), entry_id.asc())
        if after is not None:
            query = query.where(time >= after[0], or_(time > after[0], entry_id > after[1]))
    else:
        order = (time.desc(), entry_id.desc())
        if after is not None:
            query = query.where(time <= after[0], or_(time < after[0], entry_id < after[1]))
    return list(tx.session.scalars(query.order_by(*order).limit(limit)))
