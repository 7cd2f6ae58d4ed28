"""The Details form on a user's admin page: their name, address, what HR systems set, and their manager.
Saved in one transaction; a refusal names the field it is about, so the page shows it next to that field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class Field:
    name: str  # the form field's, and DirectoryService's keyword where they are the same
    label: str
    hint: str
    kind: str = "text"
    maxlength: int | None = None


FIELDS = (
    Field("display_name", "Display name", "How their name appears.", maxlength=256),
    Field("mail", "Email address", "Their work address. Leave empty for none.", kind="email", maxlength=256),
    Field("employee_id", "Employee id", "The HR system's id for them, up to 16 characters.", maxlength=16),
    Field("employee_type", "Employee type", "Employee, Contractor, Consultant, Vendor…", maxlength=64),
    Field("hire_date", "Hire date", "Their first day of work.", kind="date"),
    Field("department", "Department", "Up to 64 characters.", maxlength=64),
    Field("job_title", "Job title", "Up to 128 characters.", maxlength=128),
    Field("company_name", "Company", "Up to 64 characters.", maxlength=64),
    Field("office_location", "Office", "Building or room.", maxlength=128),
    Field("usage_location", "Usage location", "A two-letter country code, such as GB or US.", maxlength=2),
    Field("mobile_phone", "Mobile phone", "Such as +44 7700 900123.", kind="tel", maxlength=64),
    Field("other_mails", "Other email addresses", "Private addresses, separated by commas.", kind="email"),
    Field("manager", "Manager", "Their manager's sign-in name. Leave empty for none."),
)
_TEXT = ("employee_id", "employee_type", "department", "job_title", "company_name", "office_location",
         "usage_location", "mobile_phone")  # fmt: skip
# Which field a service's refusal is about, by the property name its message starts with.
_MESSAGE_FIELDS = (
    ("displayname", "display_name"),
    ("employeeid", "employee_id"),
    ("employeetype", "employee_type"),
    ("employeehiredate", "hire_date"),
    ("department", "department"),
    ("jobtitle", "job_title"),
    ("companyname", "company_name"),
    ("officelocation", "office_location"),
    ("usagelocation", "usage_location"),
    ("mobilephone", "mobile_phone"),
    ("othermails", "other_mails"),
    ("mail", "mail"),
)


@dataclass(frozen=True)
class Edit:
    """What the form shows: the posted values and the refusal next to its field, after a failed save."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


class FieldRefused(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field_name, message


def form_values(user: User, manager: User | None) -> dict[str, str]:
    values = {name: getattr(user, name) or "" for name in _TEXT}
    hired = user.employee_hire_date
    return {
        **values,
        "display_name": user.display_name,
        "mail": user.mail or "",
        "hire_date": hired.date().isoformat() if hired else "",
        "other_mails": ", ".join(user.other_mails or []),
        "manager": manager.user_principal_name if manager else "",
    }


def _field_of(message: str) -> str:
    squashed = message.casefold().replace(" ", "")
    return next((name for key, name in _MESSAGE_FIELDS if squashed.startswith(key)), "form")


def _hire_date(text: str, user: User) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise FieldRefused("hire_date", "Enter the hire date as a date, such as 2027-01-04.") from None
    kept = user.employee_hire_date
    if kept is not None and kept.date() == day:
        return kept  # the form shows the day only: keep the time a script may have set
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def save(tx: Tx, env: Env, principal: Principal, user_ref: str, form: dict[str, str]) -> None:
    """Apply the fields the form posted (one it left out stays as it is); FieldRefused names the field
    a refusal is about."""
    directory = DirectoryService(tx, env, principal)
    user = directory.find_user(user_ref)
    posted = {f.name: form[f.name].strip() for f in FIELDS if f.name in form}
    changes: dict[str, Any] = {name: posted[name] or None for name in _TEXT if name in posted}
    if "display_name" in posted:
        changes["display_name"] = posted["display_name"]
    if "mail" in posted:
        changes["mail"] = posted["mail"] or None
    if "hire_date" in posted:
        changes["employee_hire_date"] = _hire_date(posted["hire_date"], user)
    if "other_mails" in posted:
        changes["other_mails"] = [m for m in re.split(r"[,\s;]+", posted["other_mails"]) if m]
    try:
        directory.update_user(user_ref, **changes)
    except PermissionDenied:
        raise
    except DomainError as exc:
        raise FieldRefused(_field_of(exc.message), exc.message) from None
    if "manager" not in posted:
        return
    try:
        directory.set_manager(user_ref, posted["manager"] or None)
    except PermissionDenied:
        raise
    except DomainError as exc:
        raise FieldRefused("manager", exc.message) from None
