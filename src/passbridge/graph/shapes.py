"""Objects rendered with Graph's JSON names. Shared by the API and the CLI's --json output."""

from __future__ import annotations

from typing import Any

from passbridge.clock import iso_z
from passbridge.passes.service import PassView
from passbridge.store.models import Application, AuditEntry, Group, User

TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "mail": user.mail,
        "accountEnabled": user.account_enabled,
        "createdDateTime": iso_z(user.created_at),
        "jobTitle": user.job_title,
        "mobilePhone": user.mobile_phone,
        "officeLocation": user.office_location,
        "employeeId": user.employee_id,
        "employeeType": user.employee_type,
        "employeeHireDate": iso_z(user.employee_hire_date),
        "department": user.department,
        "companyName": user.company_name,
        "usageLocation": user.usage_location,
        "otherMails": list(user.other_mails or []),
    }


def group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "displayName": group.display_name,
        "description": group.description,
        "createdDateTime": iso_z(group.created_at),
        "securityEnabled": True,
        "mailEnabled": False,
        "groupTypes": [],
    }


def application_json(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "createdDateTime": iso_z(app.created_at),
        "web": {"redirectUris": list(app.redirect_uris)},
        "requiredPermissions": list(app.permissions),
    }


def tap_json(view: PassView, *, value: str | None = None, beta: bool = False) -> dict[str, Any]:
    row = view.row
    body: dict[str, Any] = {
        "@odata.type": TAP_TYPE,
        "id": row.id,
        "temporaryAccessPass": value,
        "createdDateTime": iso_z(row.created_at),
        "startDateTime": iso_z(row.start_at),
        "lifetimeInMinutes": row.lifetime_minutes,
        "isUsableOnce": row.is_usable_once,
        "isUsable": view.is_usable,
        "methodUsabilityReason": view.reason.value,
        # A Passbridge extension (docs/purpose-bound-passes.md): Graph's SDKs keep it in additionalData.
        "purpose": row.purpose.value,
    }
    if beta:
        body["lastUsedDateTime"] = iso_z(row.last_used_at)
    return body


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "category": entry.category,
        "correlationId": entry.correlation_id,
        "result": entry.result,
        "resultReason": entry.result_reason,
        "activityDisplayName": entry.activity_display_name,
        "activityDateTime": iso_z(entry.activity_date_time),
        "loggedByService": entry.logged_by_service,
        "operationType": entry.operation_type,
        "initiatedBy": entry.initiated_by,
        "targetResources": entry.target_resources,
        "additionalDetails": entry.additional_details,
    }
