"""What HR systems set on a user (Graph's employeeId, employeeHireDate, department, ..., otherMails, and
SCIM's externalId), and what disabling an account ends. DirectoryService.add_user and update_user take
these as keyword parameters named by `HrProperty.attribute`; the rules themselves are in rules.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from passbridge.clock import iso_z
from passbridge.directory.rules import (
    check_external_id,
    check_hire_date,
    check_hr_text,
    check_other_mails,
    check_usage_location,
)
from passbridge.logs import audit
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.passes import queries as pass_store
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens import revocation_queries as revocation_store


@dataclass(frozen=True)
class HrProperty:
    attribute: str  # the User attribute, and DirectoryService's keyword parameter
    graph_name: str
    check: Callable[[Any], Any]

    @property
    def audit_name(self) -> str:
        return self.graph_name[0].upper() + self.graph_name[1:]


def _text(graph_name: str, attribute: str) -> HrProperty:
    return HrProperty(attribute, graph_name, partial(check_hr_text, what=graph_name))


HR_PROPERTIES: tuple[HrProperty, ...] = (
    _text("employeeId", "employee_id"),
    _text("employeeType", "employee_type"),
    HrProperty("employee_hire_date", "employeeHireDate", check_hire_date),
    _text("department", "department"),
    _text("jobTitle", "job_title"),
    _text("companyName", "company_name"),
    _text("officeLocation", "office_location"),
    HrProperty("usage_location", "usageLocation", check_usage_location),
    _text("mobilePhone", "mobile_phone"),
    HrProperty("other_mails", "otherMails", check_other_mails),
    HrProperty("external_id", "externalId", check_external_id),
)


def _audit_value(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def apply(user: User, values: Mapping[str, Any]) -> list[ModifiedProperty]:
    """Check and set each property `values` names (by attribute); the ones that changed, for the audit
    entry. Every value is checked before any is set, so a refused one leaves the user as it was."""
    checked = [(p, p.check(values[p.attribute])) for p in HR_PROPERTIES if p.attribute in values]
    changed: list[ModifiedProperty] = []
    for prop, new in checked:
        old = getattr(user, prop.attribute)
        if new != old and not (old is None and new == []):
            changed.append(ModifiedProperty(prop.audit_name, _audit_value(old), _audit_value(new)))
            setattr(user, prop.attribute, new)
    return changed


def _target(user: User) -> TargetRef:
    return TargetRef("User", user.id, user.display_name, user.user_principal_name)


def end_access(tx: Tx, env: Env, principal: Principal, user: User) -> None:
    """A disabled account loses, at once, its browser sessions, refresh tokens (and with
    `sessions_valid_from` every access token issued before now) and its Temporary Access Pass, which
    re-enabling the account must not bring back. Each ending is audited as its own cause would be."""
    now = env.clock.now()
    user.sessions_valid_from = now
    revocation_store.end_sessions(tx, user.id, now)
    revocation_store.revoke_refresh_tokens(tx, user.id, now)
    audit.record(
        tx,
        now=now,
        principal=principal,
        activity="Invalidate all refresh tokens for user",  # tokens/revocation.py's, Entra's
        category="UserManagement",
        operation_type="Update",
        result_reason="Sign-in sessions revoked: the account was disabled",
        targets=[_target(user)],
    )
    pass_store.lock_owner(tx, user.id)
    row = pass_store.of_user(tx, user.id)
    if row is not None and pass_store.remove(tx, row.id):
        audit.record(
            tx,
            now=now,
            principal=principal,
            activity="Admin deleted security info",  # passes/service.py's, Entra's
            category="UserManagement",
            operation_type="Delete",
            logged_by_service="Authentication Methods",
            result_reason="Admin deleted temporary access pass method for user: the account was disabled",
            targets=[_target(user)],
        )
