"""The options `passbridge user add` and `user update` share for what HR systems set (Graph's names in
DirectoryService's keywords), and the hire date's parameter type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import click

from passbridge.graph.odata import parse_datetime_offset

F = TypeVar("F", bound=Callable[..., Any])

# option name -> DirectoryService keyword, for the free-text ones ("" clears one on update).
TEXT_OPTIONS = {
    "--employee-id": "employee_id",
    "--employee-type": "employee_type",
    "--department": "department",
    "--job-title": "job_title",
    "--company": "company_name",
    "--office": "office_location",
    "--usage-location": "usage_location",
    "--mobile": "mobile_phone",
}
_HELP = {
    "employee_id": "Employee id from the HR system (at most 16 characters).",
    "employee_type": "Worker type: Employee, Contractor, Consultant, Vendor...",
    "department": "Department (at most 64 characters).",
    "job_title": "Job title (at most 128 characters).",
    "company_name": "Company name (at most 64 characters).",
    "office_location": "Office location.",
    "usage_location": "Two-letter ISO 3166 country code (GB, US, JP...).",
    "mobile_phone": "Mobile phone number.",
}


class HireDate(click.ParamType[datetime]):
    """A first day of work: YYYY-MM-DD (midnight UTC) or a date and time with its offset."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        try:
            day = date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is not None:
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = parse_datetime_offset(text)
        if parsed is None:
            self.fail(f"'{text[:40]}' is not a date: use YYYY-MM-DD or 2027-01-04T09:00:00+01:00", param, ctx)
        return parsed


def hr_options(command: F) -> F:
    """Adds the HR options to a command; `hr_values` turns what was given into service keywords."""
    options = [
        click.option("--hire-date", "employee_hire_date", type=HireDate(), help="First day of work."),
        click.option(
            "--other-mail",
            "other_mails",
            multiple=True,
            help="A private address, e.g. the one the HR system holds (repeat for more; replaces them).",
        ),
        click.option("--manager", help="The manager's UPN or id."),
        *(click.option(flag, keyword, help=_HELP[keyword]) for flag, keyword in TEXT_OPTIONS.items()),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def hr_values(options: dict[str, Any]) -> dict[str, Any]:
    """The HR keywords given on the command line (not the manager), removed from `options`."""
    given: dict[str, Any] = {}
    for keyword in (*TEXT_OPTIONS.values(), "employee_hire_date"):
        value = options.pop(keyword)
        if value is not None:
            given[keyword] = value
    mails = options.pop("other_mails")
    if mails:
        given["other_mails"] = list(mails)
    return given
