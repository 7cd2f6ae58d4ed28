"""Admin portal: the helpdesk's queue of self-service recovery requests (recovery/service.py), with Approve
and Deny. Each administrator sees the requests of people they may issue passes for (methods/access.py's
tiers); approving mails the person a `recover` pass at their private address. The pass never shows here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.domain.errors import DomainError, NotFound, PermissionDenied
from passbridge.recovery import service
from passbridge.recovery.service import Facts
from passbridge.web.admin.base import BadForm, Refused, administrator, bad_form, in_tx, posted
from passbridge.web.pages import page, see_other

router = APIRouter(include_in_schema=False)

DONE = {
    "approved": "Approved: the person receives a recover pass at their private email address.",
    "denied": "Denied: the person is told.",
    "before": "That request was decided or ended before: nothing more was done.",
}


@router.get("/admin/recovery")
async def queue(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    error: str | None = None
    requests: list[Facts] = []
    try:
        requests = await in_tx(request, lambda tx, env: service.queue(tx, env, who.principal))
    except DomainError as exc:
        error = exc.message
    return page(
        "admin/recovery.html",
        requests=requests,
        error=error,
        notice=DONE.get(request.query_params.get("done", "")),
        **who.context("recovery"),
    )


@router.post("/admin/recovery/{request_id}")
async def decide(request: Request, request_id: str) -> Response:
    try:
        who = await administrator(request)
        form = await posted(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    approve = form.get("decision") == "approve"
    try:
        facts = await in_tx(
            request,
            lambda tx, env: service.decide_by_helpdesk(tx, env, who.principal, request_id, approve=approve),
            write=True,
        )
    except DomainError as exc:
        return page(
            "problem.html",
            status=404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400,
            tenant=who.tenant,
            title="That request cannot be decided",
            message=exc.message,
            link_href="/admin/recovery",
            link_text="Back to recovery requests",
        )
    return see_other(f"/admin/recovery?done={facts.state.value if facts.just_decided else 'before'}")
