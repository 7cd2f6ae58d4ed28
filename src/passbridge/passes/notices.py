"""Pass notices: the holder hears by mail when a pass is issued for them and when it is first used, never
with the pass itself, with a single-use "This wasn't me" link that revokes the pass and the sessions it
opened, and tells the helpdesk (docs/mail.md).

A link is a random token; only its keyed hash is stored (pass_notice_link), it works until the pass would
have ended, and once: the first report closes every link of that pass.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlencode

from passbridge.directory import queries as directory_store
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.templates import render
from passbridge.passes import notice_queries as store
from passbridge.passes import queries as pass_store
from passbridge.passes.notice_queries import NoticeFacts
from passbridge.services.context import Env, Principal
from passbridge.store.models import PassNoticeLink, TemporaryAccessPass, Tenant, User
from passbridge.store.tx import Tx
from passbridge.tokens.revocation_queries import end_sessions_of_pass

LINK_PATH = "/this-wasnt-me/"
TOKEN_MAX = 64  # token_urlsafe(32) is 43 characters; anything much longer is no token of ours
ISSUED, USED, REPORTED = "pass-issued", "pass-used", "pass-reported"
SERVICE = "Authentication Methods"


def _tenant(tx: Tx, env: Env) -> str:
    # By its id when this process knows it (the token service does): the session's identity map then
    # answers a bulk batch's hundred notices with one read.
    known = env.token_cache.tenant_id
    tenant = tx.session.get(Tenant, known) if known else directory_store.tenant(tx)
    if tenant is None:
        return "Passbridge"
    env.token_cache.tenant_id = tenant.id
    return tenant.display_name


def _new_link(tx: Tx, env: Env, about: NoticeFacts, now: datetime) -> str:
    assert about.pass_id is not None and about.expires_at is not None and about.issued_at is not None
    token = secrets.token_urlsafe(32)
    store.add_link(
        tx,
        PassNoticeLink(
            token_hash=env.keeper.keyed_hash(token),
            user_id=about.user_id,
            pass_id=about.pass_id,
            issued_by=about.issued_by,
            issued_at=about.issued_at,
            reason=about.reason,
            created_at=now,
            expires_at=about.expires_at,
            used_at=None,
        ),
    )
    return f"{env.settings.base_url}{LINK_PATH}{token}"


def _common(tx: Tx, env: Env, about: NoticeFacts) -> dict[str, object]:
    return {
        "tenant": _tenant(tx, env),
        "name": about.display_name,
        "upn": about.user_principal_name,
        "issuer": about.issued_by or "An administrator",
        "issued_at": about.issued_at,
        "reason": about.reason,
    }


def notify_issued(tx: Tx, env: Env, user: User, row: TemporaryAccessPass) -> bool:
    """In the issuing transaction: mail the holder that a pass was issued, if they have a mail address.
    From the rows the issuer holds: no read (a bulk run issues thousands)."""
    if not user.mail:
        return False
    about = NoticeFacts(
        user_id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        mail=user.mail,
        pass_id=row.id,
        issued_by=row.created_by_name,
        issued_at=row.created_at,
        reason=row.reason,
        start_at=row.start_at,
        expires_at=row.expires_at,
        is_usable_once=row.is_usable_once,
    )
    now = env.clock.now()
    text, html = render(
        "pass_issued",
        **_common(tx, env, about),
        starts_at=about.start_at,
        ends_at=about.expires_at,
        one_time=about.is_usable_once,
        revoke_url=_new_link(tx, env, about, now),
    )
    enqueue(
        tx, env, Mail(user.mail, "A Temporary Access Pass was issued for your account", text, html, ISSUED)
    )
    return True


def notify_first_use(tx: Tx, env: Env, user_id: str, pass_id: str, *, ip: str | None, now: datetime) -> bool:
    """In the sign-in's transaction: mail the holder that their pass was used for the first time."""
    about = store.facts(tx, user_id, pass_id)
    if about is None or not about.mail or about.pass_id is None:
        return False
    text, html = render(
        "pass_used",
        **_common(tx, env, about),
        used_at=now,
        ip_address=ip,
        revoke_url=_new_link(tx, env, about, now),
    )
    enqueue(tx, env, Mail(about.mail, "Your Temporary Access Pass was used to sign in", text, html, USED))
    return True


class LinkStatus(StrEnum):
    READY = "ready"  # shows the confirmation
    DONE = "done"  # this click reported the pass
    USED = "used"  # reported before
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LinkView:
    status: LinkStatus
    facts: NoticeFacts | None = None
    expires_at: datetime | None = None
    pass_id: str | None = None  # the pass the link is about (facts.pass_id is None once it is gone)
    sessions_ended: int = 0


def _find(tx: Tx, env: Env, token: str) -> tuple[LinkView, str | None]:
    if not token or len(token) > TOKEN_MAX:
        return LinkView(LinkStatus.UNKNOWN), None
    token_hash = env.keeper.keyed_hash(token)
    found = store.link(tx, token_hash)
    if found is None:
        return LinkView(LinkStatus.UNKNOWN), None
    if found.used_at is not None:
        status = LinkStatus.USED
    elif found.expires_at <= env.clock.now():
        status = LinkStatus.EXPIRED
    else:
        return LinkView(LinkStatus.READY, found.facts, found.expires_at, found.pass_id), token_hash
    return LinkView(status, found.facts, found.expires_at, found.pass_id), None


def look(tx: Tx, env: Env, token: str) -> LinkView:
    """What the link's page shows before anything is done (a GET changes nothing: mail scanners follow
    links)."""
    return _find(tx, env, token)[0]


def report(tx: Tx, env: Env, token: str, *, ip: str | None) -> LinkView:
    """ "This wasn't me", confirmed: revoke the pass (if it still exists), end every session begun with it
    and their refresh tokens, audit it and tell the helpdesk. Once: a second report finds it used."""
    view, token_hash = _find(tx, env, token)
    if token_hash is None or view.facts is None or view.pass_id is None:
        return view
    about, pass_id = view.facts, view.pass_id
    now = env.clock.now()
    if not store.claim(tx, token_hash, now):  # another click got there first
        return LinkView(LinkStatus.USED, about, view.expires_at, pass_id)
    store.close_links_of(tx, about.user_id, pass_id, now)
    pass_store.lock_owner(tx, about.user_id)
    revoked = pass_store.remove(tx, pass_id) if about.pass_id is not None else 0
    ended = end_sessions_of_pass(tx, about.user_id, pass_id, now)
    who = Principal(
        kind="user",
        id=about.user_id,
        display_name=about.display_name,
        user_principal_name=about.user_principal_name,
        ip_address=ip,
    )
    details = {"temporaryAccessPassId": pass_id, "sessionsEnded": str(len(ended))}
    if about.reason:
        details["issueReason"] = about.reason
    audit.record(
        tx,
        now=now,
        principal=who,
        activity="User reported a Temporary Access Pass as not theirs",
        category="UserManagement",
        operation_type="Delete",
        logged_by_service=SERVICE,
        result_reason=(
            "User said the pass was not theirs: the pass "
            f"{'was revoked' if revoked else 'was already gone'}, {len(ended)} session(s) begun with it ended"
        ),
        targets=[TargetRef("User", about.user_id, about.display_name, about.user_principal_name)],
        details=details,
    )
    helpdesk = env.settings.mail_helpdesk
    if helpdesk:
        text, html = render(
            "helpdesk_report",
            **_common(tx, env, about),
            reported_at=now,
            ip_address=ip,
            sessions=len(ended),
            revoked=bool(revoked),
            audit_url=f"{env.settings.base_url}/admin/logs?"
            + urlencode({"log": "audit", "user": about.user_principal_name}),
        )
        subject = f'Pass reported by {about.display_name}: "This wasn\'t me"'
        enqueue(tx, env, Mail(helpdesk, subject[:512], text, html, REPORTED))
    return LinkView(LinkStatus.DONE, about, view.expires_at, pass_id, sessions_ended=len(ended))
