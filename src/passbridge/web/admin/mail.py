"""Admin portal: the mail outbox (what was sent, what waits, what failed and why), newest first, with
"Send again" for failed mail. Read through mail/outbox.py, which decides who may see and retry."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, NotFound
from passbridge.mail import outbox
from passbridge.mail.queries import Listed
from passbridge.mail.rules import State
from passbridge.web.admin.base import BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.pages import env_of, page, see_other

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATES = {
    State.PENDING: "Waiting",
    State.SENDING: "Sending",
    State.SENT: "Sent",
    State.FAILED: "Failed",
}


def _before(params: dict[str, str]) -> tuple[datetime, str] | None:
    """The key after which the next page starts ("2026-12-06T12:00:00+00:00 <id>"); unreadable: none."""
    at, _, message_id = params.get("before", "").partition(" ")
    try:
        return (datetime.fromisoformat(at), message_id) if at and message_id else None
    except ValueError:
        return None


@router.get("/admin/mail")
async def mail_list(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    params = dict(request.query_params)
    state_text = params.get("state", "")
    state = State(state_text) if state_text in State._value2member_map_ else None
    before = _before(params)
    error: str | None = None
    rows: list[Listed] = []
    try:
        rows = await in_tx(
            request,
            lambda tx, env: outbox.list_messages(
                tx, who.principal, state=state, limit=PAGE_SIZE + 1, before=before
            ),
        )
    except DomainError as exc:
        error = exc.message
    shown = rows[:PAGE_SIZE]
    next_url = None
    if len(rows) > PAGE_SIZE:
        last = shown[-1]
        key = f"{last.created_at.isoformat()} {last.id}"
        next_url = "/admin/mail?" + urlencode({**({"state": state.value} if state else {}), "before": key})
    return page(
        "admin/mail.html",
        messages=shown,
        states=STATES,
        state=state,
        error=error,
        notice="The mail will be sent again shortly." if params.get("retried") == "1" else None,
        may_retry=outbox.may_retry(who.principal),
        smtp=env_of(request).settings.smtp,
        next_url=next_url,
        **who.context("mail"),
    )


@router.post("/admin/mail/{message_id}/retry")
async def retry(request: Request, message_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        await in_tx(request, lambda tx, env: outbox.retry(tx, env, who.principal, message_id), write=True)
    except DomainError as exc:
        return page(
            "problem.html",
            status=404 if isinstance(exc, NotFound) else 400,
            tenant=who.tenant,
            title="That mail cannot be sent again",
            message=exc.message,
            link_href="/admin/mail",
            link_text="Back to mail",
        )
    return see_other("/admin/mail?retried=1")
