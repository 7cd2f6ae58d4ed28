"""Admin portal: dual control for issuing passes (docs/dual-control.md). The Approvals queue (pending requests
with Approve and Deny), one request's page (decide, cancel, or, for its requester once approved, collect the
pass: shown once, as the issue page shows one), and dual control's settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, NotFound, PermissionDenied
from passbridge.passes.approval import SETTINGS_WRITERS, ApprovalService, expire_due
from passbridge.passes.approval_rules import (
    COLLECT_MAX,
    COLLECT_MIN,
    EXPIRY_MAX,
    EXPIRY_MIN,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    ApprovalSettings,
    RequestClosed,
    RequestView,
    State,
)
from passbridge.passes.service import IssuedPass
from passbridge.services import admin
from passbridge.services.context import Env
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.admin.issue import Window, grouped
from passbridge.web.pages import SCRIPT_CSP, page, see_other

router = APIRouter(include_in_schema=False)
BASE = "/admin/approvals"


def _problem(who: Admin, title: str, message: str, status: int, href: str = BASE) -> Response:
    return page(
        "problem.html",
        status=status,
        tenant=who.tenant,
        title=title,
        message=message,
        link_href=href,
        link_text="Back to approvals",
    )


def _status(exc: DomainError) -> int:
    """A refused action's page status: the request's state, the viewer's rights, or what they typed."""
    if isinstance(exc, RequestClosed):
        return 409
    return 403 if isinstance(exc, PermissionDenied) else 400


def _is_mine(who: Admin, view: RequestView) -> bool:
    return view.requester_kind == who.principal.kind and view.requester_id == who.principal.id


@router.get(BASE)
async def queue(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response

    def work(tx: Tx, env: Env) -> tuple[list[RequestView], list[RequestView], ApprovalSettings]:
        service = ApprovalService(tx, env, who.principal)
        everyone = service.list()
        pending = [v for v in everyone if v.state is State.PENDING]
        mine = [v for v in everyone if _is_mine(who, v) and v.state is not State.PENDING][:20]
        return pending, mine, service.settings()[0]

    try:
        pending, mine, settings = await in_tx(request, work)
    except DomainError as exc:
        return _problem(who, "You cannot see pass requests", exc.message, 403, "/admin")
    now = request.app.state.env.clock.now()
    return page(
        "admin/approvals.html",
        pending=pending,
        mine=mine,
        settings=settings,
        now=now,
        is_mine=lambda v: _is_mine(who, v),
        **who.context("approvals"),
    )


@router.get(BASE + "/{request_id}")
async def one_request(request: Request, request_id: str) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _show(request, who, request_id)


async def _show(
    request: Request, who: Admin, request_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    try:
        view = await in_tx(request, lambda tx, env: ApprovalService(tx, env, who.principal).get(request_id))
    except NotFound:
        return _problem(who, "No such request", "No pass request has that id.", 404)
    except DomainError as exc:
        return _problem(who, "You cannot see this request", exc.message, 403)
    return page(
        "admin/approval.html",
        status=status,
        request_view=view,
        mine=_is_mine(who, view),
        error=error,
        notice=request.query_params.get("done"),
        **who.context("approvals"),
    )


def _action(name: str, act: Callable[[ApprovalService, str, str | None], RequestView]) -> None:
    async def handler(request: Request, request_id: str) -> Response:
        try:
            who = await administrator(request)
            form = await posted(request, who)
        except Refused as refused:
            return refused.response
        except BadForm:
            return bad_form(who)
        note = form.get("note")

        def work(tx: Tx, env: Env) -> RequestView:
            return act(ApprovalService(tx, env, who.principal), request_id, note)

        try:
            await in_tx(request, expire_due, write=True)
            await in_tx(request, work, write=True)
        except NotFound:
            return _problem(who, "No such request", "No pass request has that id.", 404)
        except DomainError as exc:
            return await _show(request, who, request_id, error=exc.message, status=_status(exc))
        return see_other(f"{BASE}/{request_id}?done={name}")

    router.post(BASE + "/{request_id}/" + name)(handler)


_action("approve", lambda s, i, note: s.approve(i, note))
_action("deny", lambda s, i, note: s.deny(i, note))
_action("cancel", lambda s, i, _note: s.cancel(i))


@router.post(BASE + "/{request_id}/collect")
async def collect(request: Request, request_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)

    def work(tx: Tx, env: Env) -> tuple[IssuedPass, admin.UserOverview]:
        issued, view = ApprovalService(tx, env, who.principal).collect(request_id)
        return issued, admin.user_overview(tx, env, who.principal, view.user_id)

    try:
        await in_tx(request, expire_due, write=True)
        issued, person = await in_tx(request, work, write=True)
    except NotFound:
        return _problem(who, "No such request", "No pass request has that id.", 404)
    except DomainError as exc:
        return await _show(request, who, request_id, error=exc.message, status=_status(exc))
    start = issued.view.row.start_at
    end = start + timedelta(minutes=issued.view.row.lifetime_minutes)
    # The pass is shown on this answer only, as on the issue page (web/admin/issue.py).
    return page(
        "admin/issued.html",
        headers=SCRIPT_CSP,
        person=person,
        value=issued.value,
        groups=grouped(issued.value),
        window=Window("UTC", start, end, start, end),
        once=issued.view.row.is_usable_once,
        **who.context("approvals"),
    )


# --- settings ----------------------------------------------------------------------------------


async def _settings_page(
    request: Request,
    who: Admin,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    try:
        current, _ = await in_tx(request, lambda tx, env: ApprovalService(tx, env, who.principal).settings())
    except DomainError as exc:
        return _problem(who, "You cannot see dual control's settings", exc.message, 403, "/admin/policy")
    threshold = current.lifetime_threshold_minutes
    defaults = {
        "enabled": "yes" if current.enabled else "",
        "role_holders": "yes" if current.for_role_holders else "",
        "threshold": "" if threshold is None else str(threshold),
        "expiry": str(current.request_expiry_minutes),
        "collect": str(current.collect_within_minutes),
    }
    return page(
        "admin/approval_settings.html",
        status=status,
        values=values or defaults,
        error=error,
        notice="Dual control was saved." if request.query_params.get("saved") == "1" else None,
        may_edit=bool(who.principal.is_operator or who.principal.roles & SETTINGS_WRITERS),
        bounds={
            "threshold": (THRESHOLD_MIN, THRESHOLD_MAX),
            "expiry": (EXPIRY_MIN, EXPIRY_MAX),
            "collect": (COLLECT_MIN, COLLECT_MAX),
        },
        **who.context("policy"),
    )


@router.get("/admin/policy/dual-control")
async def settings_page(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return await _settings_page(request, who)


@router.post("/admin/policy/dual-control")
async def save_settings(request: Request) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    values = {
        "enabled": "yes" if form.get("enabled") == "yes" else "",
        "role_holders": "yes" if form.get("role_holders") == "yes" else "",
        "threshold": form.get("threshold", "").strip(),
        "expiry": form.get("expiry", "").strip(),
        "collect": form.get("collect", "").strip(),
    }
    numbers = {k: values[k] for k in ("threshold", "expiry", "collect")}
    for name, text in numbers.items():
        if (text or name != "threshold") and not (text.isascii() and text.isdigit() and len(text) <= 6):
            return await _settings_page(
                request, who, values=values, error="Enter whole numbers of minutes.", status=400
            )

    def work(tx: Tx, env: Env) -> None:
        ApprovalService(tx, env, who.principal).set_settings(
            enabled=values["enabled"] == "yes",
            for_role_holders=values["role_holders"] == "yes",
            lifetime_threshold_minutes=int(values["threshold"]) if values["threshold"] else None,
            request_expiry_minutes=int(values["expiry"]),
            collect_within_minutes=int(values["collect"]),
        )

    try:
        await in_tx(request, work, write=True)
    except DomainError as exc:
        status = 403 if "privileges" in exc.message else 400
        return await _settings_page(request, who, values=values, error=exc.message, status=status)
    return see_other("/admin/policy/dual-control?saved=1")
