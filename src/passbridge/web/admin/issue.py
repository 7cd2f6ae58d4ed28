"""Admin portal: issuing a Temporary Access Pass, and showing it once.

The pass is shown on the answer to the post that created it and nowhere else: nothing stores it, no page can
fetch it again (the page is no-store), and leaving the page forgets it. It is grouped in fours for reading
aloud over the phone, with its validity in the administrator's time zone (which the form's script reports;
UTC without scripts) and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, NotFound
from passbridge.passes.approval import ApprovalService
from passbridge.passes.approval_rules import RequestView
from passbridge.passes.rules import PassRequest, Purpose, issue_reason, purpose_of
from passbridge.passes.service import IssuedPass
from passbridge.services import admin
from passbridge.services.context import Env
from passbridge.store.tx import Tx
from passbridge.web.admin.base import (
    Admin,
    BadForm,
    Refused,
    administrator,
    bad_form,
    in_tx,
    no_such_user,
    posted,
)
from passbridge.web.pages import SCRIPT_CSP, page

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Window:
    """When a pass is valid, as the page says it: in the administrator's zone and in UTC."""

    zone: str
    start_local: datetime
    end_local: datetime
    start: datetime
    end: datetime


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def grouped(value: str) -> list[str]:
    """The pass in groups of four characters, as it is read aloud."""
    return [value[i : i + 4] for i in range(0, len(value), 4)]


async def _form(request: Request, who: Admin, user_ref: str) -> tuple[admin.UserOverview, admin.PassBounds]:
    def work(tx: Tx, env: Env) -> tuple[admin.UserOverview, admin.PassBounds]:
        return admin.user_overview(tx, env, who.principal, user_ref), admin.pass_bounds(tx)

    return await in_tx(request, work)


@router.get("/admin/users/{user_ref}/pass")
async def issue_form(request: Request, user_ref: str) -> Response:
    try:
        who = await administrator(request)
        person, bounds = await _form(request, who, user_ref)
    except Refused as refused:
        return refused.response
    except NotFound:
        return no_such_user(who)
    return _render_form(who, person, bounds, values={}, errors={})


def _render_form(
    who: Admin,
    person: admin.UserOverview,
    bounds: admin.PassBounds,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return page(
        "admin/issue.html",
        status=status,
        headers=SCRIPT_CSP,
        person=person,
        policy=bounds.policy,
        values=values,
        errors=errors,
        **who.context("users"),
    )


def _read_request(form: dict[str, str], zone: ZoneInfo, errors: dict[str, str]) -> PassRequest:
    lifetime: int | None = None
    text = form.get("lifetime", "").strip()
    if text:
        if not text.isdigit() or len(text) > 6:
            errors["lifetime"] = "Enter the lifetime as a whole number of minutes."
        else:
            lifetime = int(text)
    start: datetime | None = None
    when = form.get("start", "").strip()
    if when:
        try:
            start = datetime.fromisoformat(when).replace(tzinfo=zone).astimezone(UTC)
        except ValueError:
            errors["start"] = "Enter the start as a date and time, such as 2026-12-24 09:00."
    once = form.get("once") == "yes"
    reason = form.get("reason", "")
    try:
        issue_reason(reason)
    except DomainError as exc:
        errors["reason"] = exc.message
    purpose: Purpose | None = None
    try:
        purpose = purpose_of(form.get("purpose") or None)
    except DomainError as exc:
        errors["purpose"] = exc.message
    return PassRequest(
        start=start, lifetime_minutes=lifetime, is_usable_once=once or None, reason=reason, purpose=purpose
    )


@router.post("/admin/users/{user_ref}/pass")
async def issue(request: Request, user_ref: str) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
        person, bounds = await _form(request, who, user_ref)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    except NotFound:
        return no_such_user(who)
    zone = _zone(form.get("tz"))
    values = {k: form.get(k, "") for k in ("lifetime", "start", "once", "reason", "purpose")}
    errors: dict[str, str] = {}
    wanted = _read_request(form, zone, errors)
    if errors:
        return _render_form(who, person, bounds, values=values, errors=errors, status=400)

    def work(tx: Tx, env: Env) -> IssuedPass | RequestView:
        return ApprovalService(tx, env, who.principal).issue_or_request(person.user.id, wanted)

    try:
        issued = await in_tx(request, work, write=True)
    except DomainError as exc:
        lowered = exc.message.lower()
        field = next((f for f in ("lifetime", "start", "reason", "purpose") if f in lowered), "form")
        errors[field] = exc.message
        return _render_form(who, person, bounds, values=values, errors=errors, status=400)
    if isinstance(issued, RequestView):
        # Dual control (web/admin/approvals.py): a request awaits a second administrator; no pass yet.
        return page("admin/approval_pending.html", request_view=issued, **who.context("users"))
    start = issued.view.row.start_at
    end = start + timedelta(minutes=issued.view.row.lifetime_minutes)
    window = Window(str(zone), start.astimezone(zone), end.astimezone(zone), start, end)
    return page(
        "admin/issued.html",
        headers=SCRIPT_CSP,
        person=person,
        value=issued.value,
        groups=grouped(issued.value),
        window=window,
        once=issued.view.row.is_usable_once,
        **who.context("users"),
    )
