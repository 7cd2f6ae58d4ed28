"""Admin portal: the joiner workflow (docs/joiner-workflow.md). Its settings, the new hires whose pass is
still to come, and what it did for each one so far. Never the passes: they are in the managers' mail only."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError
from passbridge.joiner.rules import MAX_DAYS_BEFORE, JoinerSettings, due_at
from passbridge.joiner.service import MANAGERS, JoinerService
from passbridge.passes import policy_queries
from passbridge.passes.policy_rules import TapPolicy
from passbridge.services.context import Env
from passbridge.store.models import JoinerRun, User
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.pages import page, see_other

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class JoinerPage:
    settings: JoinerSettings
    policy: TapPolicy
    runs: list[tuple[JoinerRun, User]]
    upcoming: list[User]


def _read(tx: Tx, env: Env, who: Admin) -> JoinerPage:
    service = JoinerService(tx, env, who.principal)
    settings, _ = service.get()
    policy, _ = policy_queries.load(tx)
    return JoinerPage(settings, policy, service.runs(), service.upcoming())


async def _render(
    request: Request,
    who: Admin,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    try:
        shown = await in_tx(request, lambda tx, env: _read(tx, env, who))
    except DomainError as exc:
        return page(
            "problem.html",
            status=403,
            tenant=who.tenant,
            title="You cannot see the joiner workflow",
            message=exc.message,
            link_href="/admin",
            link_text="Back to the admin portal",
        )
    current = shown.settings
    defaults = {
        "enabled": "yes" if current.enabled else "",
        "days_before": str(current.days_before),
        "lifetime": "" if current.lifetime_minutes is None else str(current.lifetime_minutes),
        "one_time": "yes" if current.is_usable_once else "",
        "mail_private": "yes" if current.mail_private else "",
    }
    return page(
        "admin/joiner.html",
        status=status,
        shown=shown,
        due_at=due_at,
        values=values or defaults,
        errors=errors or {},
        notice=notice,
        may_edit=bool(who.principal.is_operator or who.principal.roles & MANAGERS),
        max_days=MAX_DAYS_BEFORE,
        **who.context("policy"),
    )


@router.get("/admin/joiner")
async def joiner_page(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    saved = request.query_params.get("saved") == "1"
    return await _render(request, who, notice="The joiner workflow was saved." if saved else None)


def _field_of(message: str) -> str:
    lowered = message.lower()
    if "lifetime" in lowered:
        return "lifetime"
    if "daysbefore" in lowered:
        return "days_before"
    if "one-time" in lowered or "isusableonce" in lowered:
        return "one_time"
    return "form"


@router.post("/admin/joiner")
async def save_joiner(request: Request) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    values = {
        "enabled": "yes" if form.get("enabled") == "yes" else "",
        "days_before": form.get("days_before", "").strip(),
        "lifetime": form.get("lifetime", "").strip(),
        "one_time": "yes" if form.get("one_time") == "yes" else "",
        "mail_private": "yes" if form.get("mail_private") == "yes" else "",
    }
    errors: dict[str, str] = {}
    days = values["days_before"]
    if not days.isdigit():
        errors["days_before"] = f"Enter a whole number of days from 0 to {MAX_DAYS_BEFORE}."
    lifetime = values["lifetime"]
    if lifetime and not lifetime.isdigit():
        errors["lifetime"] = (
            "Enter the lifetime in whole minutes, or leave it empty for the policy's default."
        )
    if errors:
        return await _render(request, who, status=400, values=values, errors=errors)

    def work(tx: Tx, env: Env) -> None:
        JoinerService(tx, env, who.principal).set(
            enabled=values["enabled"] == "yes",
            days_before=int(days),
            lifetime_minutes=int(lifetime) if lifetime else None,
            is_usable_once=values["one_time"] == "yes",
            mail_private=values["mail_private"] == "yes",
        )

    try:
        await in_tx(request, work, write=True)
    except DomainError as exc:
        if "privileges" in exc.message:
            return await _render(request, who, status=403, values=values, errors={"form": exc.message})
        field = _field_of(exc.message)
        message = exc.message.replace("daysBeforeHireDate", "Days before").replace(
            "lifetimeInMinutes", "Lifetime"
        )
        return await _render(request, who, status=400, values=values, errors={field: message})
    return see_other("/admin/joiner?saved=1")
