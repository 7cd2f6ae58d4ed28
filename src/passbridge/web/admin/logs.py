"""Admin portal: the directory audit log and the sign-in log, newest first, filtered by user, activity,
result and date, paged by key, and exported as CSV. Read through the same services as Graph's auditLogs,
so the same roles may read them (Global Reader, Global Administrator, and the security roles)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory import queries as directory_store
from passbridge.domain.errors import DomainError
from passbridge.logs.audit import AuditService
from passbridge.logs.rules import AuditComparison, AuditFilter, SignInComparison, SignInFilter
from passbridge.logs.signin_log import SignInLogService
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, SignInLogEntry
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, Refused, administrator, in_tx
from passbridge.web.pages import SECURITY_HEADERS, page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
CSV_ROWS = 10_000
MAX_TEXT = 256
LOGS = {"audit": "Audit log", "signins": "Sign-ins"}


@dataclass(frozen=True)
class Query:
    """What the filter form asked for, as typed (kept on the page) and as the services want it."""

    log: str
    user: str
    activity: str
    result: str
    start: date | None
    end: date | None
    after: tuple[datetime, str] | None
    problems: dict[str, str]

    def params(self) -> dict[str, str]:
        shown = {
            "log": self.log,
            "user": self.user,
            "activity": self.activity,
            "result": self.result,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
        }
        return {k: v for k, v in shown.items() if v}


def _date(text: str, name: str, problems: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems[name] = "Enter a date such as 2026-12-24."
        return None


def read_query(request: Request) -> Query:
    q = request.query_params
    problems: dict[str, str] = {}
    start, end = _date(q.get("from", ""), "from", problems), _date(q.get("to", ""), "to", problems)
    if start and end and start > end:
        problems["to"] = "The end date comes before the start date."
    after = None
    at, entry_id = q.get("after", ""), q.get("after_id", "")
    if at and entry_id:
        try:
            after = (datetime.fromisoformat(at).astimezone(UTC), entry_id[:64])
        except ValueError:
            after = None
    return Query(
        log=q.get("log") if q.get("log") in LOGS else "audit",  # type: ignore[arg-type]
        user=q.get("user", "").strip()[:MAX_TEXT],
        activity=q.get("activity", "").strip()[:MAX_TEXT],
        result=q.get("result") if q.get("result") in ("success", "failure") else "",  # type: ignore[arg-type]
        start=start,
        end=end,
        after=after,
        problems=problems,
    )


def _times(wanted: Query) -> list[tuple[str, datetime]]:
    times: list[tuple[str, datetime]] = []
    if wanted.start:
        times.append(("ge", datetime.combine(wanted.start, time(), UTC)))
    if wanted.end:
        times.append(("lt", datetime.combine(wanted.end + timedelta(days=1), time(), UTC)))
    return times


@dataclass(frozen=True)
class Found:
    audit: list[AuditEntry]
    signins: list[SignInLogEntry]
    next_after: tuple[datetime, str] | None
    unknown_user: bool = False


def search(tx: Tx, env: Env, who: Admin, wanted: Query, *, limit: int) -> Found:
    user_id = None
    if wanted.user:
        user = directory_store.user_by_id_or_upn(tx, wanted.user)
        if user is None and wanted.log == "audit":
            return Found([], [], None, unknown_user=True)
        user_id = user.id if user is not None else None
    if wanted.log == "audit":
        audit_times: tuple[tuple[AuditComparison, datetime], ...] = tuple(_times(wanted))  # type: ignore[arg-type]
        audit_filter = AuditFilter(
            times=audit_times,
            activities=(wanted.activity,) if wanted.activity else (),
            target_ids=(user_id,) if user_id else (),
            results=(wanted.result,) if wanted.result else (),
        )
        page_ = AuditService(tx, env, who.principal).search(audit_filter, after=wanted.after, limit=limit)
        return Found(page_.entries, [], page_.next_after)
    signin_times: tuple[tuple[SignInComparison, datetime], ...] = tuple(_times(wanted))  # type: ignore[arg-type]
    signin_filter = SignInFilter(
        times=signin_times,
        # A failed attempt may name nobody who exists: the name as typed finds it.
        user_principal_names=(wanted.user,) if wanted.user and user_id is None else (),
        user_ids=(user_id,) if user_id else (),
        failed={"failure": True, "success": False}.get(wanted.result),
    )
    found = SignInLogService(tx, env, who.principal).search(signin_filter, after=wanted.after, limit=limit)
    return Found([], found.entries, found.next_after)


@router.get("/admin/logs")
async def logs(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    wanted = read_query(request)
    error: str | None = None
    found = Found([], [], None)
    if not wanted.problems:
        try:
            found = await in_tx(request, lambda tx, env: search(tx, env, who, wanted, limit=PAGE_SIZE))
        except DomainError as exc:
            error = exc.message
    next_url = None
    if found.next_after is not None:
        at, entry_id = found.next_after
        next_url = "/admin/logs?" + urlencode(
            {**wanted.params(), "after": at.isoformat(), "after_id": entry_id}
        )
    return page(
        "admin/logs.html",
        status=400 if wanted.problems else 200,
        wanted=wanted,
        logs=LOGS,
        found=found,
        error=error,
        first_url=("/admin/logs?" + urlencode(wanted.params())) if wanted.after else None,
        next_url=next_url,
        csv_url="/admin/logs.csv?" + urlencode(wanted.params()),
        who_of=who_of,
        **who.context("logs"),
    )


def who_of(entry: AuditEntry) -> str:
    """Who did it, as the log names them: a user's sign-in name, an application, or the operator."""
    started: dict[str, Any] = entry.initiated_by or {}
    user = started.get("user") or {}
    app = started.get("app") or {}
    return str(user.get("userPrincipalName") or user.get("displayName") or app.get("displayName") or "")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading =, +, - or @ would run as a formula (OWASP)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _targets(entry: AuditEntry) -> str:
    return "; ".join(
        str(t.get("userPrincipalName") or t.get("displayName") or t.get("id") or "")
        for t in entry.target_resources
    )


@router.get("/admin/logs.csv")
async def export(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    wanted = read_query(request)
    if wanted.problems:
        return Response("The filter has an invalid date.\n", status_code=400, media_type="text/plain")
    try:
        found = await in_tx(request, lambda tx, env: search(tx, env, who, wanted, limit=CSV_ROWS))
    except DomainError as exc:
        return Response(exc.message + "\n", status_code=403, media_type="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    if wanted.log == "audit":
        writer.writerow(["Date (UTC)", "Activity", "Category", "Result", "Initiated by", "Targets", "Reason"])
        for e in found.audit:
            facts: list[object] = [
                e.activity_date_time.isoformat(),
                e.activity_display_name,
                e.category,
                e.result,
            ]
            writer.writerow([_cell(v) for v in (*facts, who_of(e), _targets(e), e.result_reason)])
    else:
        writer.writerow(["Date (UTC)", "User", "Application", "IP address", "Result", "Failure reason"])
        for s in found.signins:
            row = [s.created_at.isoformat(), s.user_principal_name, s.app_display_name, s.ip_address]
            writer.writerow(
                [_cell(v) for v in (*row, "Success" if s.error_code == 0 else "Failure", s.failure_reason)]
            )
    name = f"passbridge-{'audit' if wanted.log == 'audit' else 'sign-ins'}.csv"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
