"""Directory audit entries, written in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from passbridge.services.context import Principal
from passbridge.store import audit as audit_store
from passbridge.store.models import AuditEntry, AuditTarget


@dataclass(frozen=True)
class TargetRef:
    type: str  # "User", "Group", "Application", "Policy", "Other"
    id: str
    display_name: str | None = None
    user_principal_name: str | None = None

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "type": self.type,
            "userPrincipalName": self.user_principal_name,
            "groupType": None,
            "modifiedProperties": [],
        }


def record(
    session: Session,
    *,
    now: datetime,
    principal: Principal,
    activity: str,
    category: str,
    operation_type: str,
    targets: list[TargetRef],
    result_reason: str = "",
    logged_by_service: str = "Core Directory",
    result: str = "success",
    details: dict[str, str] | None = None,
) -> AuditEntry:
    """Add an audit entry. Callers pass names and ids only: never a secret."""
    entry = AuditEntry(
        id=str(uuid.uuid4()),
        activity_date_time=now,
        activity_display_name=activity,
        category=category,
        correlation_id=principal.correlation_id,
        logged_by_service=logged_by_service,
        operation_type=operation_type,
        result=result,
        result_reason=result_reason,
        initiated_by=principal.initiated_by(),
        target_resources=[t.as_graph() for t in targets],
        additional_details=[{"key": k, "value": v} for k, v in (details or {}).items()],
    )
    session.add(entry)
    for target_id in {t.id for t in targets}:
        session.add(AuditTarget(audit_id=entry.id, target_id=target_id))
    return entry


def list_entries(session: Session, *, limit: int = 100) -> list[AuditEntry]:
    return audit_store.newest_first(session, limit=limit)
