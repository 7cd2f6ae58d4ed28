"""Directory audit entries, written in the same transaction as the change they describe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passbridge.directory import access
from passbridge.directory.rules import Role
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit_queries as audit_store
from passbridge.logs.queries import EntryKey
from passbridge.logs.rules import AuditFilter
from passbridge.services.context import Env, Principal
from passbridge.store.models import AuditEntry, AuditTarget
from passbridge.store.tx import Tx

READ = ("AuditLog.Read.All",)
# Of the roles Passbridge knows, these may read the directory audit log (Entra also lets
# Reports Reader and the security roles read it).
READ_ROLES = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.GLOBAL_READER})


@dataclass(frozen=True)
class ModifiedProperty:
    """One changed property. Values are JSON text, as Entra writes them; never a secret."""

    display_name: str
    old_value: Any
    new_value: Any

    def as_graph(self) -> dict[str, Any]:
        return {
            "displayName": self.display_name,
            "oldValue": json.dumps(self.old_value),
            "newValue": json.dumps(self.new_value),
        }


@dataclass(frozen=True)
class TargetRef:
    type: str  # "User", "Group", "Application", "Policy", "Other"
    id: str
    display_name: str | None = None
    user_principal_name: str | None = None
    modified_properties: tuple[ModifiedProperty, ...] = ()

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "type": self.type,
            "userPrincipalName": self.user_principal_name,
            "groupType": None,
            "modifiedProperties": [p.as_graph() for p in self.modified_properties],
        }


def record(
    tx: Tx,
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
        id=new_guid(),
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
    tx.session.add(entry)
    for target_id in {t.id for t in targets}:
        tx.session.add(AuditTarget(audit_id=entry.id, target_id=target_id))
    return entry


def list_entries(tx: Tx, *, limit: int = 100) -> list[AuditEntry]:
    return audit_store.newest_first(tx, limit=limit)


def require_may_read(principal: Principal) -> None:
    """Needs no database: edges call it before parsing a query, so the unauthorised get 403, not 400."""
    access.require_app_permission(principal, *READ)
    if principal.kind == "user" and not principal.roles & READ_ROLES:
        raise PermissionDenied("Reading the audit log needs the Global Reader or Global Administrator role.")


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    # Where the next page starts (this page's last entry's time and id); None when none follows.
    next_after: EntryKey | None

    @property
    def has_more(self) -> bool:
        return self.next_after is not None


@dataclass
class AuditService:
    """Reading the directory audit log."""

    tx: Tx
    env: Env
    principal: Principal

    def _check_may_read(self) -> None:
        require_may_read(self.principal)

    def search(
        self, wanted: AuditFilter, *, after: EntryKey | None, limit: int, oldest_first: bool = False
    ) -> AuditPage:
        self._check_may_read()
        # One row more than asked tells whether another page exists without counting.
        rows = audit_store.search(self.tx, wanted, after=after, limit=limit + 1, oldest_first=oldest_first)
        last = rows[limit - 1] if len(rows) > limit else None
        return AuditPage(rows[:limit], None if last is None else (last.activity_date_time, last.id))

    def get(self, entry_id: str) -> AuditEntry:
        self._check_may_read()
        entry = audit_store.by_id(self.tx, entry_id)
        if entry is None:
            raise NotFound(f"No directory audit entry with id '{entry_id}' exists.", kind="audit")
        return entry
