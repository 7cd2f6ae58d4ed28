"""Self-service recovery: "Lost your device?" on the sign-in page, approved by the person's manager (a mail
link, signed in with a passkey) or the helpdesk (the portal's queue, or the CLI), and a `recover` pass
mailed to the private address HR gave.

The requester learns nothing: every name gets the same page (web/recovery.py), an unknown one leaves no
trace, and the rate limits count names whether or not they exist. The pass is issued through TapService
(its policy, audit entry and holder's notice) by the RECOVERY principal, naming the approver in its
reason; it exists only in the mail to the private address. Every step is audited, never with a secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from passbridge.directory import queries as directory_store
from passbridge.directory.base import user_ref
from passbridge.directory.rules import Role, upn_key
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.methods.access import tier_refusal
from passbridge.methods.strength import meets
from passbridge.passes.approval_gate import ApprovalRequired
from passbridge.passes.rules import PassRequest, Purpose
from passbridge.passes.service import IssuedPass, TapService
from passbridge.recovery import notices, rules
from passbridge.recovery import queries as store
from passbridge.recovery.rules import Route, State, Via
from passbridge.services.context import Env, Principal
from passbridge.signin.rules import Strength
from passbridge.signin.sessions import SessionView
from passbridge.store.models import RecoveryRequest, User
from passbridge.store.tx import Tx

RECOVERY = Principal(kind="operator", id=None, display_name="Self-service recovery")
SERVICE = "Self-service recovery"
# A manager approves only from a passkey sign-in: Passwordless MFA or Phishing-resistant MFA.
MANAGER_STRENGTH = Strength.PASSWORDLESS_MFA
PURGE_EVERY = 64


class NeedsPasskey(DomainError):
    """The manager's session is not strong enough to approve: they sign in again with a passkey."""

    def __init__(self) -> None:
        super().__init__(
            "Approving a recovery needs a sign-in with a passkey. Sign in again with your passkey, and you "
            "come back here."
        )


# --- asking --------------------------------------------------------------------------------------


def request(env: Env, typed: str, *, ip: str | None) -> None:
    """ "Lost your device?": counts against the limits, then opens a request if the name is an enabled
    account's and it has none open. Says nothing either way (RateLimited and InvalidInput alone are raised,
    and they are the same for every name)."""
    name = rules.check_username(typed)
    now = env.clock.now()
    keys = [("name:" + upn_key(name), rules.PER_NAME)]
    if ip:
        keys.append(("source:" + ip, rules.PER_SOURCE))
    with env.db.transaction() as tx:
        # Rides along with about one request in PURGE_EVERY, as sign-in's housekeeping does.
        if secrets.randbelow(PURGE_EVERY) == 0:
            store.purge_limits(tx, now - rules.LIMITS_KEPT)
        for key, limit in sorted(keys, key=lambda pair: pair[0]):
            if not store.take(tx, key, allowed=limit.requests, window=limit.window, now=now):
                # Leaving the block by raising rolls back: a refused request spends nothing.
                raise rules.RateLimited()
    try:
        with env.db.transaction() as tx:
            _open(tx, env, name, ip, now)
    except IntegrityError:
        pass  # a request for them opened at the same moment on another process: that one stands


def _open(tx: Tx, env: Env, name: str, ip: str | None, now: datetime) -> None:
    user = directory_store.user_by_upn(tx, name)
    if user is None:
        return  # nothing recorded, nothing mailed: an unknown name leaves no trace
    if not user.account_enabled:
        _audit(
            tx,
            now,
            _asker(user, ip),
            user,
            "Request self-service recovery",
            "failure",
            "The account is disabled",
        )
        return
    store.close_expired(tx, user.id, now)
    if store.open_of(tx, user.id) is not None:
        _audit(
            tx,
            now,
            _asker(user, ip),
            user,
            "Request self-service recovery",
            "failure",
            "A request of theirs is open already: nothing new was sent",
        )
        return
    manager = DirectoryService(tx, env, RECOVERY).get_manager(user.id)
    if manager is not None and not (manager.account_enabled and manager.mail):
        manager = None
    chosen, why = rules.route(has_manager=manager is not None, has_private_address=bool(user.other_mails))
    link = secrets.token_urlsafe(32) if chosen is Route.MANAGER else None
    row = RecoveryRequest(
        id=new_guid(),
        user_id=user.id,
        state=State.OPEN.value,
        created_at=now,
        expires_at=now + rules.REQUEST_LIFETIME,
        source_ip=ip,
        route=chosen.value,
        route_reason=why,
        manager_id=manager.id if manager is not None and link else None,
        link_hash=env.keeper.keyed_hash(link) if link else None,
    )
    store.add(tx, row)
    said = (
        f"Their manager {manager.display_name} was mailed a link to approve it"
        if manager is not None and link
        else f"Only the helpdesk can approve it: {why}"
    )
    _audit(tx, now, _asker(user, ip), user, "Request self-service recovery", "success", said, row)
    notices.requested(tx, env, row, user, manager if link else None, link)


def _asker(user: User, ip: str | None) -> Principal:
    # Whoever typed the name is not known to be the user; the entry names the account and the address.
    return Principal(
        kind="user",
        id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        ip_address=ip,
    )


def _audit(
    tx: Tx,
    now: datetime,
    principal: Principal,
    user: User,
    activity: str,
    result: str,
    reason: str,
    row: RecoveryRequest | None = None,
) -> None:
    audit.record(
        tx,
        now=now,
        principal=principal,
        activity=activity,
        category="UserManagement",
        operation_type="Update",
        targets=[user_ref(user)],
        result=result,
        result_reason=reason[:512],
        logged_by_service=SERVICE,
        details={"recoveryRequestId": row.id} if row is not None else None,
    )


# --- looking and deciding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """A request as the review pages, the queue and the CLI show it."""

    id: str
    state: State
    user_id: str
    display_name: str
    user_principal_name: str
    created_at: datetime
    expires_at: datetime
    source_ip: str | None
    route: Route
    route_reason: str | None
    manager_id: str | None
    manager_name: str | None
    has_private_address: bool
    decided_by: str | None
    decided_at: datetime | None
    # True only in the answer to the call that decided it: a second approval is told it was decided before.
    just_decided: bool = False


def _facts(row: RecoveryRequest, user: User, manager: User | None, now: datetime) -> Facts:
    return Facts(
        id=row.id,
        state=rules.state_at(row.state, row.expires_at, now),
        user_id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        source_ip=row.source_ip,
        route=Route(row.route),
        route_reason=row.route_reason,
        manager_id=row.manager_id,
        manager_name=manager.display_name if manager is not None else None,
        has_private_address=bool(user.other_mails),
        decided_by=row.decided_by_name,
        decided_at=row.decided_at,
    )


def _by_link(tx: Tx, env: Env, token: str) -> tuple[RecoveryRequest, User] | None:
    if not token or len(token) > rules.TOKEN_MAX:
        return None
    row = store.by_link(tx, env.keeper.keyed_hash(token))
    user = directory_store.user_by_id(tx, row.user_id) if row is not None else None
    return None if row is None or user is None else (row, user)


def look(tx: Tx, env: Env, token: str) -> Facts | None:
    """The request a manager's link is about; None when no link of ours has this token. Changes nothing
    (mail scanners follow links)."""
    found = _by_link(tx, env, token)
    if found is None:
        return None
    row, user = found
    manager = directory_store.user_by_id(tx, row.manager_id) if row.manager_id else None
    return _facts(row, user, manager, env.clock.now())


def check_manager(facts: Facts, session: SessionView) -> None:
    """Whether this signed-in person may decide by the link: its manager, signed in with a passkey."""
    if session.user_id != facts.manager_id:
        raise PermissionDenied(
            f"This request is for {facts.display_name}'s manager to review, and you are signed in as "
            f"{session.user_principal_name}. Sign in as the manager the mail was sent to."
        )
    if not meets(session.acr, MANAGER_STRENGTH):
        raise NeedsPasskey()


def decide_by_link(
    tx: Tx, env: Env, token: str, session: SessionView, *, approve: bool, ip: str | None
) -> Facts:
    """The manager's decision: once (a second approval does nothing more), before the request ends, by
    the manager the link was sent to if they are still the person's manager, signed in with a passkey."""
    found = _by_link(tx, env, token)
    if found is None:
        raise NotFound("This link is not one we sent, or it was copied incompletely.")
    row, user = found
    facts = look(tx, env, token)
    assert facts is not None
    check_manager(facts, session)
    if user.manager_id != session.user_id:
        raise PermissionDenied(f"You are no longer {user.display_name}'s manager in the directory.")
    who = Principal(
        kind="user",
        id=session.user_id,
        display_name=session.display_name,
        user_principal_name=session.user_principal_name,
        ip_address=ip,
    )
    return _decide(tx, env, row, user, who, Via.MANAGER, approve=approve)


def _require_helpdesk(tx: Tx, principal: Principal, user: User | None) -> None:
    """Administrators who may issue passes for the person (methods/access.py's tiers) decide; operators
    always may."""
    if principal.is_operator:
        return
    if principal.kind != "user":
        raise PermissionDenied("Only administrators decide recovery requests.")
    refusal = tier_refusal(principal.roles, _roles_of(tx, user.id if user is not None else None))
    if refusal is not None:
        raise PermissionDenied(refusal)


def _roles_of(tx: Tx, user_id: str | None) -> Callable[[], list[str]]:
    """The person's role ids, read only if the tier rule asks (none: no person yet, the first gate)."""
    return lambda: directory_store.role_ids_of(tx, user_id) if user_id is not None else []


def decide_by_helpdesk(tx: Tx, env: Env, principal: Principal, request_id: str, *, approve: bool) -> Facts:
    """The portal's or the CLI's decision on a request in the queue."""
    _require_helpdesk(tx, principal, None)
    row = store.by_id(tx, request_id.strip().lower())
    user = directory_store.user_by_id(tx, row.user_id) if row is not None else None
    if row is None or user is None:
        raise NotFound(f"No recovery request has the id '{request_id}'.")
    _require_helpdesk(tx, principal, user)
    if principal.kind == "user" and principal.id == user.id:
        raise PermissionDenied("You cannot decide your own recovery request.")
    return _decide(
        tx,
        env,
        row,
        user,
        principal,
        Via.OPERATOR if principal.is_operator else Via.HELPDESK,
        approve=approve,
    )


def _decide(
    tx: Tx, env: Env, row: RecoveryRequest, user: User, who: Principal, via: Via, *, approve: bool
) -> Facts:
    now = env.clock.now()
    manager = directory_store.user_by_id(tx, row.manager_id) if row.manager_id else None
    if rules.state_at(row.state, row.expires_at, now) is not State.OPEN:
        return _facts(row, user, manager, now)  # decided or ended before: nothing more happens
    if approve and not user.other_mails:
        raise InvalidInput(
            "HR gave no private mail address for this person, so a pass cannot be mailed to them. Check who "
            "they are another way and issue a pass from their user page, then deny this request."
        )
    name = who.display_name
    state = State.APPROVED if approve else State.DENIED
    if not store.decide(tx, row.id, state=state.value, now=now, by_id=who.id, by_name=name, via=via.value):
        tx.session.refresh(row)
        return _facts(row, user, manager, now)  # another decision got there first
    if approve:
        issued = _issue(tx, env, row, user, name, via)
        store.set_pass(tx, row.id, issued.view.id)
        notices.approved(tx, env, user, name, issued.value, issued.view.end, issued.view.row.is_usable_once)
        said = f"Approved by {name} ({via.value}): a recover pass was mailed to the private address"
    else:
        notices.denied(tx, env, user, name)
        said = f"Denied by {name} ({via.value})"
    activity = "Approve self-service recovery" if approve else "Deny self-service recovery"
    _audit(tx, now, who, user, activity, "success", said, row)
    tx.session.refresh(row)
    return replace(_facts(row, user, manager, now), just_decided=True)


def _issue(tx: Tx, env: Env, row: RecoveryRequest, user: User, name: str, via: Via) -> IssuedPass:
    """The recover pass, through TapService's rules. Dual control (passes/approval_gate.py) wants a second
    administrator for a role holder's pass: the person asked and an administrator (the helpdesk or the
    operator) approved, which is that second pair of eyes; a manager need not be an administrator, so a
    role holder's recovery is for the helpdesk to approve."""
    service = TapService(tx, env, RECOVERY)
    wanted = PassRequest(
        is_usable_once=True,
        purpose=Purpose.RECOVER,
        reason=f"Self-service recovery approved by {name} ({via.value})"[:256],
    )
    try:
        planned = service.plan(user.id, wanted, approved_request=None if via is Via.MANAGER else row.id)
    except ApprovalRequired as needed:
        raise PermissionDenied(
            f"{user.display_name}'s pass needs an administrator's approval ({needed.why}), so their "
            "helpdesk decides this recovery in the admin portal's Recovery queue."
        ) from None
    value = planned.new_value()
    return service.issue_planned(planned, value, env.keeper.slow_hash(value))


# --- the queue ----------------------------------------------------------------------------------


def queue(tx: Tx, env: Env, principal: Principal, *, only_open: bool = True, limit: int = 100) -> list[Facts]:
    """The requests this principal may decide (the helpdesk's queue), newest first; a Global Reader sees
    every one (and decides none: decide_by_helpdesk still asks for the tier)."""
    reader = principal.kind == "user" and Role.GLOBAL_READER in principal.roles
    if not reader:
        _require_helpdesk(tx, principal, None)
    now = env.clock.now()
    shown: list[Facts] = []
    for listed in store.listing(tx, only_open=only_open, now=now, limit=limit):
        if principal.kind == "user" and not reader:
            user_id = listed.user.id
            if principal.id == user_id or tier_refusal(principal.roles, _roles_of(tx, user_id)):
                continue
        shown.append(_facts(listed.request, listed.user, listed.manager, now))
    return shown
