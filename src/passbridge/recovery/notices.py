"""Self-service recovery's mail: the approval link to the manager, the note to the helpdesk, the notices
to the person at every step (at work and at their private address), and the pass itself, which goes to the
private address HR gave and nowhere else. Every mail is put in the outbox in the transaction of its step."""

from __future__ import annotations

from passbridge.directory import queries as directory_store
from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.templates import render
from passbridge.recovery.rules import masked
from passbridge.services.context import Env
from passbridge.store.models import RecoveryRequest, User
from passbridge.store.tx import Tx

REVIEW_PATH = "/recover/review/"
QUEUE_PATH = "/admin/recovery"
REQUESTED, REVIEW, HELPDESK = "recovery-requested", "recovery-review", "recovery-helpdesk"
PASS, APPROVED, DENIED = "recovery-pass", "recovery-approved", "recovery-denied"


def _tenant(tx: Tx) -> str:
    found = directory_store.tenant(tx)
    return found.display_name if found else "Passbridge"


def _person(user: User) -> list[str]:
    """Where the person hears of each step: their work mail and their private address, each once."""
    found: list[str] = []
    for address in (user.mail, *(user.other_mails[:1] or ())):
        if address and address.casefold() not in {a.casefold() for a in found}:
            found.append(address)
    return found


def _send(tx: Tx, env: Env, to: str, subject: str, template: str, kind: str, **context: object) -> None:
    text, html = render(template, tenant=_tenant(tx), **context)
    enqueue(tx, env, Mail(to, subject, text, html, kind))


def requested(
    tx: Tx, env: Env, row: RecoveryRequest, user: User, manager: User | None, link: str | None
) -> None:
    """A new request: the person hears someone asked; the manager gets the link; the helpdesk is told."""
    private = user.other_mails[0] if user.other_mails else None
    facts = {
        "name": user.display_name,
        "upn": user.user_principal_name,
        "requested_at": row.created_at,
        "expires_at": row.expires_at,
        "ip_address": row.source_ip,
    }
    for address in _person(user):
        _send(
            tx,
            env,
            address,
            "Someone asked to recover your account",
            "recovery_requested",
            REQUESTED,
            manager=manager.display_name if manager is not None and link else None,
            private=masked(private) if private else None,
            **facts,
        )
    if manager is not None and manager.mail and link:
        _send(
            tx,
            env,
            manager.mail,
            f"{user.display_name} lost their device: please confirm it was them",
            "recovery_review",
            REVIEW,
            manager=manager.display_name,
            review_url=f"{env.settings.base_url}{REVIEW_PATH}{link}",
            **facts,
        )
    if env.settings.mail_helpdesk:
        _send(
            tx,
            env,
            env.settings.mail_helpdesk,
            f"Recovery request from {user.display_name}"[:512],
            "recovery_helpdesk",
            HELPDESK,
            manager=manager.display_name if manager is not None and link else None,
            why=row.route_reason,
            queue_url=f"{env.settings.base_url}{QUEUE_PATH}",
            **facts,
        )


def approved(
    tx: Tx, env: Env, user: User, approver: str, value: str, ends_at: object, one_time: bool
) -> None:
    """The pass to the private address (its only copy), and a notice without it to the work address."""
    private = user.other_mails[0]
    grouped = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    _send(
        tx,
        env,
        private,
        "Your Temporary Access Pass to recover your account",
        "recovery_pass",
        PASS,
        name=user.display_name,
        upn=user.user_principal_name,
        approver=approver,
        grouped=grouped,
        ends_at=ends_at,
        one_time=one_time,
        sign_in_url=f"{env.settings.base_url}/login",
    )
    for address in _person(user):
        if address.casefold() == private.casefold():
            continue
        _send(
            tx,
            env,
            address,
            "Your account recovery was approved",
            "recovery_decided",
            APPROVED,
            name=user.display_name,
            upn=user.user_principal_name,
            approver=approver,
            approved=True,
            private=masked(private),
        )


def denied(tx: Tx, env: Env, user: User, approver: str) -> None:
    for address in _person(user):
        _send(
            tx,
            env,
            address,
            "Your account recovery was not approved",
            "recovery_decided",
            DENIED,
            name=user.display_name,
            upn=user.user_principal_name,
            approver=approver,
            approved=False,
            private=None,
        )
