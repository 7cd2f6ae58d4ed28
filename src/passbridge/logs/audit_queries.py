"""Audit log queries: filtering and paging happen in SQL, on both databases."""

from __future__ import annotations

from sqlalchemy import Select, select

from passbridge.logs.queries import at_times, page
from passbridge.logs.rules import AuditFilter
from passbridge.store.models import AuditEntry, AuditTarget
from passbridge.store.tx import Tx


def _where(query: Select[tuple[AuditEntry]], wanted: AuditFilter) -> Select[tuple[AuditEntry]]:
    query = at_times(query, AuditEntry.activity_date_time, wanted.times)
    for activity in wanted.activities:
        query = query.where(AuditEntry.activity_display_name == activity)
    for category in wanted.categories:
        query = query.where(AuditEntry.category == category)
    for target_id in wanted.target_ids:
        # One EXISTS per target: an entry must name every target the filter asks for.
        query = query.where(
            select(AuditTarget.audit_id)
            .where(AuditTarget.audit_id == AuditEntry.id, AuditTarget.target_id == target_id)
            .exists()
        )
    return query


def search(
    tx: Tx,
    wanted: AuditFilter,
    *,
    offset: int = 0,
    limit: int,
    oldest_first: bool = False,
) -> list[AuditEntry]:
    return page(
        tx,
        _where(select(AuditEntry), wanted),
        time=AuditEntry.activity_date_time,
        entry_id=AuditEntry.id,
        offset=offset,
        limit=limit,
        oldest_first=oldest_first,
    )


def by_id(tx: Tx, entry_id: str) -> AuditEntry | None:
    return tx.session.get(AuditEntry, entry_id)


def newest_first(tx: Tx, *, limit: int) -> list[AuditEntry]:
    return search(tx, AuditFilter(), limit=limit)
