"""Audit log queries: filtering and paging happen in SQL, on both databases."""

from __future__ import annotations

from sqlalchemy import Select, select

from passbridge.logs.queries import EntryKey, at_times, page
from passbridge.logs.rules import AuditFilter
from passbridge.store.models import AuditEntry, AuditTarget
from passbridge.store.tx import Tx


def _where(query: Select[tuple[AuditEntry]], wanted: AuditFilter) -> Select[tuple[AuditEntry]]:
    query = at_times(query, AuditEntry.activity_date_time, wanted.times)
    for activity in wanted.activities:
        query = query.where(AuditEntry.activity_display_name == activity)
    for category in wanted.categories:
        query = query.where(AuditEntry.category == category)
    for result in wanted.results:
        query = query.where(AuditEntry.result == result)
    for target_id in wanted.target_ids:
        # One IN per target (an entry must name every target the filter asks for), from the target's
        # index: the correlated EXISTS it replaces made both databases walk the whole log by time.
        query = query.where(
            AuditEntry.id.in_(select(AuditTarget.audit_id).where(AuditTarget.target_id == target_id))
        )
    return query


def search(
    tx: Tx,
    wanted: AuditFilter,
    *,
    after: EntryKey | None = None,
    limit: int,
    oldest_first: bool = False,
) -> list[AuditEntry]:
    return page(
        tx,
        _where(select(AuditEntry), wanted),
        time=AuditEntry.activity_date_time,
        entry_id=AuditEntry.id,
        after=after,
        limit=limit,
        oldest_first=oldest_first,
    )


def by_id(tx: Tx, entry_id: str) -> AuditEntry | None:
    return tx.session.get(AuditEntry, entry_id)


def newest_first(tx: Tx, *, limit: int) -> list[AuditEntry]:
    return search(tx, AuditFilter(), limit=limit)
