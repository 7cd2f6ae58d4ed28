"""Audit log queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from passbridge.store.models import AuditEntry


def newest_first(session: Session, *, limit: int) -> list[AuditEntry]:
    query = (
        select(AuditEntry).order_by(AuditEntry.activity_date_time.desc(), AuditEntry.id.desc()).limit(limit)
    )
    return list(session.scalars(query))
