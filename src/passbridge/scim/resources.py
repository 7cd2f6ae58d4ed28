"""Users and groups as SCIM resources, and SCIM resources as changes to the directory.

SCIM and Graph are two views of the same rows: every SCIM attribute below is a column Graph shows under
its own name (userName is userPrincipalName, title is jobTitle, userType is employeeType, the enterprise
extension's employeeNumber is employeeId and organization companyName, emails of type "work" are `mail` and
the others `otherMails`, the mobile phone number is mobilePhone). Writes go through DirectoryService, so
its rules, permission checks and audit entries are the same whichever API a change came through.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson

from passbridge.clock import iso_z
from passbridge.scim import queries as store
from passbridge.scim.errors import ScimError
from passbridge.scim.schemas import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PASSBRIDGE_SCHEMA, USER_SCHEMA
from passbridge.store.models import Group, User
from passbridge.store.tx import Tx

Document = dict[str, Any]


def etag_of(document: Document) -> str:
    """A weak ETag from the resource's content: any change to what a client sees changes it, and no
    column has to be kept in step with every write."""
    body = {k: v for k, v in document.items() if k != "meta"}
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20]
    return f'W/"{digest}"'


def _meta(kind: str, location: str, created: datetime) -> Document:
    return {"resourceType": kind, "created": iso_z(created), "location": location}


def _finish(document: Document, kind: str, location: str, created: datetime) -> Document:
    meta = _meta(kind, location, created)
    meta["version"] = etag_of(document)
    document["meta"] = meta
    return document


def _set(target: Document, key: str, value: Any) -> None:
    if value is not None and value != []:
        target[key] = value


def user_document(tx: Tx, user: User, base: str) -> Document:
    document: Document = {"schemas": [USER_SCHEMA], "id": user.id}
    _set(document, "externalId", user.external_id)
    document["userName"] = user.user_principal_name
    document["displayName"] = user.display_name
    _set(document, "title", user.job_title)
    _set(document, "userType", user.employee_type)
    document["active"] = user.account_enabled
    emails = [{"value": user.mail, "type": "work"}] if user.mail else []
    emails += [{"value": other, "type": "other"} for other in user.other_mails or []]
    _set(document, "emails", emails)
    if user.mobile_phone:
        document["phoneNumbers"] = [{"value": user.mobile_phone, "type": "mobile"}]
    groups = [
        {"value": gid, "$ref": f"{base}/Groups/{gid}", "display": name, "type": "direct"}
        for gid, name in store.group_rows_of(tx, user.id)
    ]
    _set(document, "groups", groups)
    enterprise: Document = {}
    _set(enterprise, "employeeNumber", user.employee_id)
    _set(enterprise, "organization", user.company_name)
    _set(enterprise, "department", user.department)
    if user.manager_id:
        # RFC 7643 §4.3's displayName is optional; Graph's GET /users/{id}/manager has the name.
        enterprise["manager"] = {"value": user.manager_id, "$ref": f"{base}/Users/{user.manager_id}"}
    if enterprise:
        document["schemas"].append(ENTERPRISE_SCHEMA)
        document[ENTERPRISE_SCHEMA] = enterprise
    if user.employee_hire_date is not None:
        document["schemas"].append(PASSBRIDGE_SCHEMA)
        document[PASSBRIDGE_SCHEMA] = {"employeeHireDate": iso_z(user.employee_hire_date)}
    return _finish(document, "User", f"{base}/Users/{user.id}", user.created_at)


def group_document(tx: Tx, group: Group, base: str, *, with_members: bool = True) -> Document:
    document: Document = {"schemas": [GROUP_SCHEMA], "id": group.id}
    _set(document, "externalId", group.external_id)
    document["displayName"] = group.display_name
    if with_members:
        members = [
            # RFC 7643 §8.7.1's members: value, $ref and type (a member's name is on the member).
            {"value": uid, "$ref": f"{base}/Users/{uid}", "type": "User"}
            for uid, _, _ in store.member_rows(tx, group.id)
        ]
        _set(document, "members", members)
    return _finish(document, "Group", f"{base}/Groups/{group.id}", group.created_at)


# --- from SCIM to the directory -----------------------------------------------------------------


@dataclass(frozen=True)
class UserFields:
    """What a SCIM representation says a user's stored properties are."""

    user_principal_name: str
    display_name: str | None
    external_id: str | None
    job_title: str | None
    employee_type: str | None
    account_enabled: bool
    mail: str | None
    other_mails: list[str]
    mobile_phone: str | None
    employee_id: str | None
    company_name: str | None
    department: str | None
    manager_id: str | None
    employee_hire_date: datetime | None

    @classmethod
    def of_user(cls, user: User) -> UserFields:
        return cls(**{f.name: getattr(user, f.name) for f in fields(cls)})

    def changes_from(self, current: UserFields) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(current, f.name)
        }


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ScimError(400, f"{what} must be a string.", "invalidValue")
    return value.strip() or None


def _emails(entries: list[Document] | None) -> tuple[str | None, list[str]]:
    """The work address (the first of type work, or the primary, or the first untyped) and the others."""
    work: str | None = None
    others: list[str] = []
    for entry in entries or []:
        value = _text(entry.get("value"), "emails.value")
        if value is None:
            continue
        kind = str(entry.get("type") or "").lower()
        if work is None and (kind == "work" or (not kind and not others) or entry.get("primary") is True):
            work = value
        elif value not in others:
            others.append(value)
    return work, others


def _mobile(entries: list[Document] | None) -> str | None:
    for entry in entries or []:
        kind = str(entry.get("type") or "mobile").lower()
        if kind == "mobile":
            return _text(entry.get("value"), "phoneNumbers.value")
    return None


def _hire_date(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ScimError(400, f"employeeHireDate '{value}' is not a dateTime.", "invalidValue") from None


def user_fields(document: Document) -> UserFields:
    """The stored properties a full representation (POST, PUT, or a resource after PATCH) asks for.
    Attributes left out are cleared, as RFC 7644 §3.5.1 has PUT replace the whole resource."""
    name = _text(document.get("userName"), "userName")
    if name is None:
        raise ScimError(400, "userName is required.", "invalidValue")
    enterprise = document.get(ENTERPRISE_SCHEMA) or {}
    ours = document.get(PASSBRIDGE_SCHEMA) or {}
    manager = enterprise.get("manager")
    manager_id = _text(manager.get("value") if isinstance(manager, dict) else manager, "manager.value")
    work, others = _emails(document.get("emails"))
    active = document.get("active")
    return UserFields(
        user_principal_name=name,
        display_name=_text(document.get("displayName"), "displayName"),
        external_id=_text(document.get("externalId"), "externalId"),
        job_title=_text(document.get("title"), "title"),
        employee_type=_text(document.get("userType"), "userType"),
        account_enabled=True if active is None else bool(active),
        mail=work,
        other_mails=others,
        mobile_phone=_mobile(document.get("phoneNumbers")),
        employee_id=_text(enterprise.get("employeeNumber"), "employeeNumber"),
        company_name=_text(enterprise.get("organization"), "organization"),
        department=_text(enterprise.get("department"), "department"),
        manager_id=manager_id.lower() if manager_id else None,
        employee_hire_date=_hire_date(ours.get("employeeHireDate")),
    )


@dataclass(frozen=True)
class GroupFields:
    display_name: str
    external_id: str | None
    member_ids: list[str] | None  # None: the representation does not speak of members


def group_fields(document: Document, *, members_given: bool = True) -> GroupFields:
    name = _text(document.get("displayName"), "displayName")
    if name is None:
        raise ScimError(400, "displayName is required.", "invalidValue")
    member_ids: list[str] | None = None
    if members_given:
        member_ids = []
        for entry in document.get("members") or []:
            kind = str(entry.get("type") or "User")
            if kind.lower() != "user":
                raise ScimError(
                    400, "Groups hold users only; nested groups are not supported.", "invalidValue"
                )
            value = _text(entry.get("value"), "members.value")
            if value is None:
                raise ScimError(400, "A member needs a value: the user's id.", "invalidValue")
            if value.lower() not in member_ids:
                member_ids.append(value.lower())
    return GroupFields(name, _text(document.get("externalId"), "externalId"), member_ids)
