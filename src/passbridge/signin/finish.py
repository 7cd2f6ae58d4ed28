"""The end of every sign-in, whatever proved it: `finish()` is the only code that opens a session.

It runs in the write transaction of the flow's one handler (flow.py `SignInService.prove`), after the
flow moved to done and the strategy committed its proof (strategies.py), so everything here lands
together with the proof's one-time writes or not at all: the browser's previous session ends (a
session is rotated, never reused), the new session is stored by its keyed hash only, the throttle
clears the counters a success clears and hands out a device cookie, and the sign-in log gets its entry.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from passbridge.ids import new_guid
from passbridge.logs import signin_log
from passbridge.methods import passkey_queries as passkey_store
from passbridge.passes import notices
from passbridge.services.context import Env
from passbridge.signin import queries, rules
from passbridge.signin.sessions import SessionView
from passbridge.signin.throttle import Attempt, Throttle
from passbridge.store.tx import Tx

if TYPE_CHECKING:
    from passbridge.signin.flow import ProofFlow


@dataclass(frozen=True)
class Who:
    """Who a proof is about, as far as it is known, for the throttle, the log and the session."""

    user_id: str | None
    user_principal_name: str | None
    display_name: str | None
    log_method: str  # Graph's authenticationMethod wording (rules.log_name)


@dataclass(frozen=True)
class Worth:
    """What a committed proof contributes to the session (rules.py, methods/strength.py)."""

    amr: tuple[str, ...]
    acr: str
    pass_id: str | None = None  # a pass sign-in's session ends with the pass,
    pass_end: datetime | None = None
    one_time_pass: bool = False  # and after a one-time pass, 10 minutes later unless a method is added
    first_pass_use: bool = False  # the pass's first sign-in: its holder is told (passes/notices.py)
    pass_purpose: str | None = None  # the pass's Purpose value: what the session may do


@dataclass(frozen=True)
class SignedIn:
    """What the edge needs once a sign-in is finished."""

    session: SessionView
    cookie_value: str  # the session's secret, for the cookie only: never logged or stored
    return_to: str | None
    auth_request: dict[str, Any] | None
    needs_setup: bool  # no passkey or authenticator app yet: offer "Set up your sign-in methods"
    device_cookie: str  # signed, naming the user: this browser's attempts are trusted next time


def log_entry(
    flow: ProofFlow,
    who: Who,
    ip: str | None,
    now: datetime,
    code: int,
    reason: str | None,
    *,
    multi_factor: bool = True,
) -> signin_log.Attempt:
    """The sign-in log's entry for an attempt on `flow`, success or not."""
    return signin_log.Attempt(
        now=now,
        method=who.log_method,
        error_code=code,
        failure_reason=reason,
        user_id=who.user_id,
        user_principal_name=who.user_principal_name,
        user_display_name=who.display_name,
        app_id=flow.view.client_id,
        app_display_name=flow.app_display_name,
        ip_address=ip,
        multi_factor=multi_factor,
    )


def finish(
    tx: Tx,
    env: Env,
    flow: ProofFlow,
    who: Who,
    worth: Worth,
    attempt: Attempt,
    *,
    ip: str | None,
    previous_cookie: str | None,
    now: datetime,
) -> SignedIn:
    """Open the session the proof earned (the flow is already done), in the caller's transaction."""
    user_id = who.user_id
    if user_id is None:  # a strategy commits only a proof that named its user
        raise rules.SignInFailed("The proof named no user.")
    if previous_cookie:
        queries.end_session_by_hash(tx, env.keeper.keyed_hash(previous_cookie), now)
    cookie_value = secrets.token_urlsafe(32)
    view = SessionView(
        id=new_guid(),
        user_id=user_id,
        user_principal_name=who.user_principal_name or "",
        display_name=who.display_name or "",
        auth_time=now,
        amr=worth.amr,
        acr=worth.acr,
        expires_at=rules.session_end(now, timedelta(minutes=env.settings.session_minutes), worth.pass_end),
        register_by=rules.registration_deadline(now, one_time_pass=worth.one_time_pass),
        pass_id=worth.pass_id,
        pass_purpose=worth.pass_purpose,
    )
    # Only the keyed hash is stored; the value goes to the cookie alone.
    queries.add_session(tx, view, env.keeper.keyed_hash(cookie_value), ip, now)
    if worth.first_pass_use and worth.pass_id is not None:
        notices.notify_first_use(tx, env, user_id, worth.pass_id, ip=ip, now=now)
    device = Throttle(env).succeeded(tx, attempt, user_id)
    signin_log.record(
        tx, log_entry(flow, who, ip, now, signin_log.SUCCESS, None, multi_factor="mfa" in worth.amr)
    )
    return SignedIn(
        session=view,
        cookie_value=cookie_value,
        return_to=flow.view.return_to,
        auth_request=flow.view.auth_request,
        # Until a person holds a passkey or an authenticator app, a pass leads to "Set up your sign-in
        # methods" (a passkey or a code proves they hold one already).
        needs_setup=worth.pass_id is not None and not passkey_store.holds_strong_method(tx, user_id),
        device_cookie=device,
    )
