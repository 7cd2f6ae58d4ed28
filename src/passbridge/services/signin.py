"""Sign-in flows: identify, then prove with a Temporary Access Pass, then a session.

A flow is a stored row (DESIGN.md, "Flows are explicit state"), so any server process can continue
any flow, and pages, tests and later APIs drive the same calls. A proof runs in two transactions with
the slow hash between them: the read (flow, lockout, the pass's hash) holds no lock while Argon2
works, and the write (finish the flow once, use the pass once, create the session) is short.
Callers run these methods off the event loop: they block on the database and on Argon2.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from passbridge.domain import signin as rules
from passbridge.domain import tap as tap_rules
from passbridge.domain.errors import InvalidInput
from passbridge.domain.signin import FlowState, Method
from passbridge.services import signin_log
from passbridge.services.context import Env
from passbridge.services.sessions import SessionView
from passbridge.store import directory as directory_store
from passbridge.store import policy as policy_store
from passbridge.store import signin as store
from passbridge.store.models import SignInFailure, SignInFlow, UserSession

USERNAME_MAX = 256
PASS_MAX = 256  # far above any pass (48); refuses megabyte posts before they reach Argon2
PURGE_EVERY = 64


@dataclass(frozen=True)
class FlowView:
    id: str
    state: FlowState
    csrf_token: str
    username: str | None
    methods: tuple[Method, ...]  # what the prove step offers
    return_to: str | None
    auth_request: dict[str, Any] | None
    client_id: str | None
    force_login: bool
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    session: SessionView
    cookie_value: str  # the session's secret, for the cookie only: never logged or stored
    return_to: str | None
    auth_request: dict[str, Any] | None
    needs_setup: bool  # no passkey or authenticator app yet: offer "Set up your sign-in methods"


@dataclass(frozen=True)
class _Checked:
    """What the read half of a proof found, for the write half."""

    flow: FlowView
    user_id: str | None
    user_principal_name: str | None
    display_name: str | None
    enabled: bool
    pass_id: str | None
    secret_hash: str | None
    app_display_name: str | None


def _view(row: SignInFlow) -> FlowView:
    return FlowView(
        id=row.id,
        state=FlowState(row.state),
        csrf_token=row.csrf_token,
        username=row.username,
        # Everyone without a stronger method is offered the pass, known or not, so the step after
        # the username reveals nothing about the account (passkeys join this in the next issue).
        methods=(Method.TEMPORARY_ACCESS_PASS,) if row.state == FlowState.PROVE else (),
        return_to=row.return_to,
        auth_request=row.auth_request,
        client_id=row.client_id,
        force_login=row.force_login,
        expires_at=row.expires_at,
    )


def _has_strong_method(session: Session, user_id: str) -> bool:
    """Passkeys and authenticator apps are registered through security info (the next issue adds
    them); until a user holds one, every pass sign-in leads to "Set up your sign-in methods"."""
    return False


def allowed_return_to(session: Session, value: str | None) -> str | None:
    """A path on this site, or an address registered as some application's redirect URI; else refused,
    so a link cannot send a freshly signed-in user to a stranger's site."""
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if not parts.scheme and not parts.netloc and value.startswith("/") and not value.startswith("//"):
        if "\\" in value:
            raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")
        return value
    without_query = parts._replace(query="", fragment="").geturl()
    for app in directory_store.applications(session):
        if without_query in (app.redirect_uris or []):
            return value
    raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")


@dataclass
class SignInService:
    env: Env

    @property
    def _now(self) -> datetime:
        return self.env.clock.now()

    def _lockout_rule(self) -> rules.LockoutRule:
        s = self.env.settings
        return rules.LockoutRule(
            s.lockout_threshold, s.lockout_ip_threshold, timedelta(minutes=s.lockout_window_minutes)
        )

    # --- steps ------------------------------------------------------------------------------

    def begin(
        self,
        *,
        return_to: str | None = None,
        auth_request: dict[str, Any] | None = None,
        client_id: str | None = None,
        force_login: bool = False,
    ) -> FlowView:
        """A new flow waiting for a username. `auth_request` holds an OpenID Connect request already
        validated by the provider; it is resumed when the flow is done."""
        now = self._now
        with self.env.db.unit_of_work() as session:
            row = SignInFlow(
                id=str(uuid.uuid4()),
                state=FlowState.IDENTIFY,
                csrf_token=secrets.token_urlsafe(32),
                user_id=None,
                username=None,
                methods_satisfied=[],
                return_to=allowed_return_to(session, return_to),
                auth_request=auth_request,
                client_id=client_id,
                force_login=force_login,
                created_at=now,
                expires_at=now + timedelta(minutes=self.env.settings.flow_minutes),
            )
            store.add_flow(session, row)
            # Housekeeping rides along with about one flow in PURGE_EVERY: flows a day past expiry are
            # of no use to anyone, and a delete on every sign-in would cost each one a scan.
            if secrets.randbelow(PURGE_EVERY) == 0:
                store.purge_flows(session, now - timedelta(days=1))
                store.purge_failures(session, now - timedelta(days=1))
            return _view(row)

    def flow(self, flow_id: str | None) -> FlowView:
        """The flow, if it is still open; FlowExpired otherwise."""
        with self.env.db.unit_of_work(readonly=True) as session:
            return _view(self._open_flow(session, flow_id))

    def _open_flow(self, session: Session, flow_id: str | None) -> SignInFlow:
        row = store.flow(session, flow_id) if flow_id else None
        if row is None or row.state == FlowState.DONE or row.expires_at <= self._now:
            raise rules.FlowExpired()
        return row

    @staticmethod
    def _check_csrf(row: SignInFlow, csrf_token: str | None) -> None:
        if not csrf_token or not hmac.compare_digest(row.csrf_token.encode(), csrf_token.encode()):
            raise rules.CsrfMismatch()

    def identify(self, flow_id: str | None, csrf_token: str | None, username: str) -> FlowView:
        """Record who is signing in. Never says whether the account exists: every name moves on."""
        name = username.strip()
        if not name:
            raise InvalidInput("Enter your username, such as ada@contoso.example.")
        if len(name) > USERNAME_MAX:
            raise InvalidInput("That username is too long.")
        with self.env.db.unit_of_work() as session:
            row = self._open_flow(session, flow_id)
            self._check_csrf(row, csrf_token)
            user = directory_store.user_by_upn(session, name)
            row.username = name
            row.user_id = user.id if user is not None else None
            row.state = FlowState.PROVE
            session.flush()
            return _view(row)

    def prove_with_pass(
        self,
        flow_id: str | None,
        csrf_token: str | None,
        value: str,
        *,
        ip_address: str | None,
        previous_session_cookie: str | None = None,
    ) -> SignedIn:
        """Check the pass and, when it works, finish the flow with a new session (rotated: the
        browser's previous session, if any, ends). Raises SignInFailed, LockedOut, FlowExpired or
        CsrfMismatch; every attempt past the CSRF check writes a sign-in log entry."""
        candidate = value.strip()
        checked = self._read_for_proof(flow_id, csrf_token, ip_address)
        if len(candidate) > PASS_MAX:
            candidate = candidate[:PASS_MAX]
        # The slow part, outside any transaction. An unknown user or a missing pass costs the same
        # hash as a real one, so timing does not tell them apart.
        matched = self.env.keeper.slow_hash_matches(
            candidate, checked.secret_hash or self.env.keeper.decoy_hash()
        )
        matched = matched and checked.secret_hash is not None
        try:
            return self._finish_with_pass(checked, matched, ip_address, previous_session_cookie)
        except rules.SignInFailed as failure:
            self._record_failure(checked, ip_address, failure)
            raise

    def _read_for_proof(self, flow_id: str | None, csrf_token: str | None, ip: str | None) -> _Checked:
        now = self._now
        with self.env.db.unit_of_work(readonly=True) as session:
            row = self._open_flow(session, flow_id)
            self._check_csrf(row, csrf_token)
            if row.state != FlowState.PROVE:
                raise rules.FlowExpired()
            user = directory_store.user_by_id(session, row.user_id) if row.user_id else None
            pass_row = store.pass_for_sign_in(session, user.id) if user is not None else None
            app = directory_store.application_by_app_id(session, row.client_id) if row.client_id else None
            checked = _Checked(
                flow=_view(row),
                user_id=user.id if user else None,
                user_principal_name=user.user_principal_name if user else row.username,
                display_name=user.display_name if user else None,
                enabled=bool(user and user.account_enabled),
                pass_id=pass_row.id if pass_row else None,
                secret_hash=pass_row.secret_hash if pass_row else None,
                app_display_name=app.display_name if app else None,
            )
            rule = self._lockout_rule()
            by_user, by_ip = store.failures_since(
                session, user_id=checked.user_id, ip_address=ip, since=now - rule.window
            )
            wait = rules.lockout_remaining(rule, user_failures=by_user, ip_failures=by_ip, now=now)
        if wait is not None:
            # Refused before the pass is looked at, so a locked account reveals nothing about it.
            with self.env.db.unit_of_work() as session:
                signin_log.record(
                    session,
                    self._attempt(
                        checked,
                        ip,
                        signin_log.ACCOUNT_LOCKED,
                        "Account is locked because the user tried to sign in too many times.",
                    ),
                )
            raise rules.LockedOut(wait)
        return checked

    def _attempt(
        self, checked: _Checked, ip: str | None, code: int, reason: str | None
    ) -> signin_log.Attempt:
        return signin_log.Attempt(
            now=self._now,
            method=rules.PROOFS[Method.TEMPORARY_ACCESS_PASS].display_name,
            error_code=code,
            failure_reason=reason,
            user_id=checked.user_id,
            user_principal_name=checked.user_principal_name,
            user_display_name=checked.display_name,
            app_id=checked.flow.client_id,
            app_display_name=checked.app_display_name,
            ip_address=ip,
        )

    def _finish_with_pass(
        self, checked: _Checked, matched: bool, ip: str | None, previous_cookie: str | None
    ) -> SignedIn:
        if checked.user_id is None:
            raise rules.SignInFailed("No account with this username.")
        if not checked.enabled:
            raise rules.SignInFailed("User account is disabled.", error_code=signin_log.ACCOUNT_DISABLED)
        if checked.pass_id is None or checked.secret_hash is None:
            raise rules.SignInFailed("The user holds no Temporary Access Pass.")
        if not matched:
            raise rules.SignInFailed("The Temporary Access Pass was wrong.")
        now = self._now
        with self.env.db.unit_of_work() as session:
            # Read again under the write transaction: the pass may have been replaced, used or
            # made unusable by policy while the hash was being checked.
            current = store.pass_for_sign_in(session, checked.user_id)
            if current is None or current.id != checked.pass_id:
                raise rules.SignInFailed("The Temporary Access Pass was deleted or replaced.")
            policy, _ = policy_store.load(session)
            groups = (
                directory_store.group_ids_of(session, checked.user_id)
                if policy.needs_group_ids(checked.user_id)
                else ()
            )
            state = tap_rules.PassState(
                current.start_at, current.lifetime_minutes, current.is_usable_once, current.used_at
            )
            reason = tap_rules.usability(
                state, policy, targeted=policy.targets(checked.user_id, groups), now=now
            )
            if reason is not tap_rules.UsabilityReason.ENABLED_BY_POLICY:
                raise rules.SignInFailed(f"The Temporary Access Pass is not usable: {reason.value}.")
            if not store.finish_flow(session, checked.flow.id, FlowState.PROVE):
                raise rules.FlowExpired()
            if not store.use_pass(session, current.id, current.secret_hash, now):
                raise rules.SignInFailed("The one-time Temporary Access Pass was already used.")
            if previous_cookie:
                ended = store.session_by_hash(session, self.env.keeper.keyed_hash(previous_cookie))
                if ended is not None:
                    store.end_session(session, ended[0].id, now)
            cookie_value, row = self._new_session(current, checked.user_id, ip, now)
            store.add_session(session, row)
            store.clear_user_failures(session, checked.user_id)
            signin_log.record(session, self._attempt(checked, ip, signin_log.SUCCESS, None))
            return SignedIn(
                session=SessionView(
                    id=row.id,
                    user_id=checked.user_id,
                    user_principal_name=checked.user_principal_name or "",
                    display_name=checked.display_name or "",
                    auth_time=row.auth_time,
                    amr=tuple(row.amr),
                    acr=row.acr,
                    expires_at=row.expires_at,
                    register_by=row.register_by,
                    pass_id=row.pass_id,
                ),
                cookie_value=cookie_value,
                return_to=checked.flow.return_to,
                auth_request=checked.flow.auth_request,
                needs_setup=not _has_strong_method(session, checked.user_id),
            )

    def _new_session(
        self, used: store.PassForSignIn, user_id: str, ip: str | None, now: datetime
    ) -> tuple[str, UserSession]:
        proof = rules.PROOFS[Method.TEMPORARY_ACCESS_PASS]
        pass_end = used.start_at + timedelta(minutes=used.lifetime_minutes)
        cookie_value = secrets.token_urlsafe(32)
        row = UserSession(
            id=str(uuid.uuid4()),
            token_hash=self.env.keeper.keyed_hash(cookie_value),
            user_id=user_id,
            created_at=now,
            auth_time=now,
            amr=list(proof.amr),
            acr=proof.strength.value,
            expires_at=rules.session_end(now, timedelta(minutes=self.env.settings.session_minutes), pass_end),
            register_by=rules.registration_deadline(now, one_time_pass=used.is_usable_once),
            pass_id=used.id,
            ip_address=ip,
        )
        return cookie_value, row

    def _record_failure(self, checked: _Checked, ip: str | None, failure: rules.SignInFailed) -> None:
        with self.env.db.unit_of_work() as session:
            store.add_failure(
                session,
                SignInFailure(id=str(uuid.uuid4()), user_id=checked.user_id, ip_address=ip, at=self._now),
            )
            signin_log.record(session, self._attempt(checked, ip, failure.error_code, failure.reason))
