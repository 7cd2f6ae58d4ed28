"""Dual control's mail (docs/dual-control.md): the administrators who may approve hear of a new request, the
requester hears of the decision. Never a pass: none exists until the requester collects it in person."""

from __future__ import annotations

from passbridge.directory import queries as directory_store
from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.templates import render
from passbridge.passes.approval_rules import RequestView
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.store.tx import Tx

REQUESTED, DECIDED = "pass-approval-requested", "pass-approval-decided"
PAGE = "/admin/approvals/"


def _tenant(tx: Tx) -> str:
    tenant = directory_store.tenant(tx)
    return tenant.display_name if tenant else "Passbridge"


def _link(env: Env, request_id: str) -> str:
    return f"{env.settings.base_url.rstrip('/')}{PAGE}{request_id}"


def tell_approvers(tx: Tx, env: Env, view: RequestView, approvers: list[User]) -> int:
    """In the request's transaction: one mail to each approver with a mail address; how many."""
    sent = 0
    tenant = _tenant(tx)
    for approver in approvers:
        if not approver.mail:
            continue
        text, html = render(
            "approval_requested",
            tenant=tenant,
            name=approver.display_name,
            request=view,
            url=_link(env, view.id),
        )
        subject = f"Approval needed: a Temporary Access Pass for {view.user_display_name}"
        enqueue(tx, env, Mail(approver.mail, subject[:512], text, html, REQUESTED))
        sent += 1
    return sent


def tell_requester(tx: Tx, env: Env, view: RequestView, requester: User | None) -> bool:
    """In the decision's transaction: mail the requester (a person with a mail address) the decision."""
    if requester is None or not requester.mail:
        return False
    text, html = render(
        "approval_decided",
        tenant=_tenant(tx),
        name=requester.display_name,
        request=view,
        url=_link(env, view.id),
    )
    verb = "approved" if view.state == "approved" else "denied"
    subject = f"Your request for a Temporary Access Pass for {view.user_display_name} was {verb}"
    enqueue(tx, env, Mail(requester.mail, subject[:512], text, html, DECIDED))
    return True
