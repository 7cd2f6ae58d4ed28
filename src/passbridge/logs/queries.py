"""What the two logs' searches share (audit_queries.py, signin_log_queries.py): time comparisons
from a $filter, and pages ordered by time with the id breaking ties, so that paging is stable on both
databases when entries share a timestamp."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from passbridge.store.tx import Tx

T = TypeVar("T")

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
    offset: int,
    limit: int,
    oldest_first: bool,
) -> list[T]:
    order = (time.asc(), entry_id.asc()) if oldest_first else (time.desc(), entry_id.desc())
    return list(tx.session.scalars(query.order_by(*order).offset(offset).limit(limit)))
