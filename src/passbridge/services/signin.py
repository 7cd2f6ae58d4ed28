"""Sign-in flows: identify, then prove with a Temporary Access Pass, then a session.

A flow is a stored row (DESIGN.md, "Flows are explicit state"), so any server process can continue
any flow, and pages, tests and later APIs drive the same calls. A proof runs in two rounds with the
slow hash between them: the read (flow, user, pass, lockout counts) holds no lock or transaction while
Argon2 works, and the write (finish the flow once, use the pass once, create the session, log it) is
one short transaction.
Callers run these methods off the event loop: they block on the database and on Argon2.

Each step is one round trip to the database on plain Core statements (store/signin.py): the pass
sign-in is meant to cost little more than its one Argon2 verify (bench/README.md, pass sign-ins).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from passbridge.domain import signin as rules
from passbridge.domain import tap as tap_rules
from passbridge.domain.directory import upn_key
from passbridge.domain.errors import InvalidInput
from passbridge.domain.signin import FlowState, Method
from passbridge.ids import new_guid
from passbridge.services import signin_log
from passbridge.services.authorize import pending_request
from passbridge.services.context import Env
from passbridge.services.sessions import SessionView
from passbridge.services.throttle import Attempt, Throttle
from passbridge.store import directory as directory_store
from passbridge.store import passkeys as passkey_store
from passbridge.store import policy as policy_store
from passbridge.store import signin as store
from passbridge.store import taps as taps_store
from passbridge.store import throttle as throttle_store

USERNAME_MAX = 256
PASS_MAX = 256  # far above any pass (48); refuses megabyte posts before they reach Argon2
PURGE_EVERY = 64
_PROOF = rules.PROOFS[Method.TEMPORARY_ACCESS_PASS]


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
    device_cookie: str  # signed, naming the user: this browser's attempts are trusted next time


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
    attempt: Attempt


def _view(row: Any) -> FlowView:
    """A flow's row (or its column values) as the pages and the provider see it."""
    state = FlowState(row.state)
    return FlowView(
        id=row.id,
        state=state,
        csrf_token=row.csrf_token,
        username=row.username,
        # Everyone is offered the same, known or not, so the step after the username reveals nothing
        # about the account: the pass here, and on every page a passkey and an authenticator-app code
        # (web/passwordless.py).
        methods=(Method.TEMPORARY_ACCESS_PASS,) if state == FlowState.PROVE else (),
        return_to=row.return_to,
        auth_request=row.auth_request,
        client_id=row.client_id,
        force_login=row.force_login,
        expires_at=row.expires_at,
    )


def _is_local_path(value: str) -> bool:
    """A path on this site (no scheme, no host, not protocol-relative); a backslash is refused, as
    some browsers read it as a slash."""
    parts = urlsplit(value)
    if not parts.scheme and not parts.netloc and value.startswith("/") and not value.startswith("//"):
        if "\\" in value:
            raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")
        return True
    return False


def allowed_return_to(session: Session, value: str | None) -> str | None:
    """A path on this site, or an address registered as some application's redirect URI; else refused,
    so a link cannot send a freshly signed-in user to a stranger's site."""
    if value is None or value == "":
        return None
    if _is_local_path(value):
        return value
    without_query = urlsplit(value)._replace(query="", fragment="").geturl()
    for app in directory_store.applications(session):
        if without_query in (app.redirect_uris or []):
            return value
    raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")


def _housekeeping(connection: Connection, now: datetime) -> None:
    """Rides along with about one new flow in PURGE_EVERY: flows and throttle counters a day past use
    are of no use to anyone, and a delete on every sign-in would cost each one a scan."""
    if secrets.randbelow(PURGE_EVERY) == 0:
        store.purge_flows(connection, now - timedelta(days=1))
        throttle_store.purge(connection, now - timedelta(days=1))


@dataclass
class SignInService:
    env: Env

    @property
    def _now(self) -> datetime:
        return self.env.clock.now()

    @property
    def throttle(self) -> Throttle:
        return Throttle(self.env)

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
        checked = self._checked_return_to(return_to)
        with store.writing(self.env.db) as connection:
            return self._begin(
                connection,
                return_to=checked,
                auth_request=auth_request,
                client_id=client_id,
                force_login=force_login,
            )

    def _checked_return_to(self, value: str | None) -> str | None:
        if not value:
            return None
        if _is_local_path(value):
            return value
        with self.env.db.unit_of_work(readonly=True) as session:
            return allowed_return_to(session, value)

    def _begin(
        self,
        connection: Connection,
        *,
        return_to: str | None = None,
        auth_request: dict[str, Any] | None = None,
        client_id: str | None = None,
        force_login: bool = False,
    ) -> FlowView:
        now = self._now
        flow_id, csrf_token = new_guid(), secrets.token_urlsafe(32)
        expires_at = now + timedelta(minutes=self.env.settings.flow_minutes)
        store.add_flow(
            connection,
            flow_id=flow_id,
            csrf_token=csrf_token,
            return_to=return_to,
            auth_request=auth_request,
            client_id=client_id,
            force_login=force_login,
            created_at=now,
            expires_at=expires_at,
        )
        _housekeeping(connection, now)
        return FlowView(
            id=flow_id,
            state=FlowState.IDENTIFY,
            csrf_token=csrf_token,
            username=None,
            methods=(),
            return_to=return_to,
            auth_request=auth_request,
            client_id=client_id,
            force_login=force_login,
            expires_at=expires_at,
        )

    def login_page(
        self, *, flow_id: str | None = None, or_begin: bool = True, return_to: str | None = None
    ) -> tuple[FlowView, str | None]:
        """What the username page shows, in one round: the flow `flow_id` names if it is still open,
        else (with `or_begin`) a pending one for `return_to`, and the organisation's name (None before
        there is a tenant). FlowExpired when the flow is closed and `or_begin` is false.

        A pending flow is not stored: an anonymous visit writes nothing. Its id (the flow cookie) and
        its CSRF token, a keyed hash of the id and `return_to`, let the first post create it
        (`_stored_flow`), with `return_to` posted back in a hidden field."""
        with self.env.db.reading(transaction=False) as connection:
            row = store.flow(connection, flow_id) if flow_id else None
            tenant = store.tenant_name(connection)
        if self._is_open(row):
            return _view(row), tenant
        if not or_begin:
            raise rules.FlowExpired()
        checked = self._checked_return_to(return_to)
        flow_id = new_guid()
        pending = FlowView(
            id=flow_id,
            state=FlowState.IDENTIFY,
            csrf_token=self._pending_csrf(flow_id, checked),
            username=None,
            methods=(),
            return_to=checked,
            auth_request=None,
            client_id=None,
            force_login=False,
            expires_at=self._now + timedelta(minutes=self.env.settings.flow_minutes),
        )
        return pending, tenant

    def _pending_csrf(self, flow_id: str, return_to: str | None) -> str:
        return self.env.keeper.keyed_hash(f"pending sign-in v1|{flow_id}|{return_to or ''}")

    def _stored_flow(
        self, connection: Connection, flow_id: str, csrf_token: str | None, return_to: str | None
    ) -> Any | None:
        """The flow's row; a pending flow (login_page) is created first when the post carries the
        token this server gave it, so only a page we served can make a row, and only by posting."""
        row = store.flow(connection, flow_id)
        if row is not None or not csrf_token:
            return row
        expected = self._pending_csrf(flow_id, return_to or None)
        if not hmac.compare_digest(expected.encode(), csrf_token.encode("utf-8", "replace")):
            return None
        now = self._now
        # An anonymous authorization request's flow (oidc/authorize.py) names its application here.
        asked = pending_request(self.env, return_to)
        store.add_flow(
            connection,
            flow_id=flow_id,
            csrf_token=expected,
            return_to=return_to or None,
            auth_request=asked.auth_request if asked else None,
            client_id=asked.client_id if asked else None,
            force_login=asked.force_login if asked else False,
            created_at=now,
            expires_at=now + timedelta(minutes=self.env.settings.flow_minutes),
            if_absent=True,
        )
        _housekeeping(connection, now)
        return store.flow(connection, flow_id)

    def flow(self, flow_id: str | None) -> FlowView:
        """The flow, if it is still open; FlowExpired otherwise."""
        if not flow_id:
            raise rules.FlowExpired()
        with self.env.db.reading(transaction=False) as connection:
            row = store.flow(connection, flow_id)
        if not self._is_open(row):
            raise rules.FlowExpired()
        return _view(row)

    def _is_open(self, row: Any | None) -> TypeGuard[Any]:
        return row is not None and row.state != FlowState.DONE and row.expires_at > self._now

    @staticmethod
    def _check_csrf(row: Any, csrf_token: str | None) -> None:
        if not csrf_token or not hmac.compare_digest(row.csrf_token.encode(), csrf_token.encode()):
            raise rules.CsrfMismatch()

    def identify(
        self, flow_id: str | None, csrf_token: str | None, username: str, *, return_to: str | None = None
    ) -> FlowView:
        """Record who is signing in. Never says whether the account exists: every name moves on.
        `return_to` is the pending flow's, posted back (login_page)."""
        name = username.strip()
        if not name:
            raise InvalidInput("Enter your username, such as ada@contoso.example.")
        if len(name) > USERNAME_MAX:
            raise InvalidInput("That username is too long.")
        if not flow_id:
            raise rules.FlowExpired()
        now = self._now
        with store.writing(self.env.db) as connection:
            row = self._stored_flow(connection, flow_id, csrf_token, return_to)
            if not self._is_open(row):
                raise rules.FlowExpired()
            self._check_csrf(row, csrf_token)
            # Conditional on the flow still being open: a racing finish or expiry wins.
            if not store.identify(connection, flow_id, name, upn_key(name), now):
                raise rules.FlowExpired()
        return replace(
            _view(row), state=FlowState.PROVE, username=name, methods=(Method.TEMPORARY_ACCESS_PASS,)
        )

    def prove_with_pass(
        self,
        flow_id: str | None,
        csrf_token: str | None,
        value: str,
        *,
        ip_address: str | None,
        previous_session_cookie: str | None = None,
        device_cookie: str | None = None,
    ) -> SignedIn:
        """Check the pass and, when it works, finish the flow with a new session (rotated: the
        browser's previous session, if any, ends). Raises SignInFailed, LockedOut, FlowExpired or
        CsrfMismatch; every attempt past the CSRF check writes a sign-in log entry. The attempt is
        reserved with the throttle before the hash (services/throttle.py)."""
        candidate = value.strip()
        checked = self._read_for_proof(flow_id, csrf_token, ip_address, device_cookie)
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

    def _read_for_proof(
        self, flow_id: str | None, csrf_token: str | None, ip: str | None, device_cookie: str | None
    ) -> _Checked:
        if not flow_id:
            raise rules.FlowExpired()
        # No transaction: the write half checks again whatever could have changed by then (the flow,
        # the pass, the policy).
        with self.env.db.reading(transaction=False) as connection:
            row = store.flow_for_proof(connection, flow_id)
        if not self._is_open(row):
            raise rules.FlowExpired()
        self._check_csrf(row, csrf_token)
        if row.state != FlowState.PROVE:
            raise rules.FlowExpired()
        found = row.found_user_id is not None
        throttle = self.throttle
        checked = _Checked(
            flow=_view(row),
            user_id=row.found_user_id,
            user_principal_name=row.user_principal_name if found else row.username,
            display_name=row.display_name if found else None,
            enabled=bool(found and row.account_enabled),
            pass_id=row.pass_id,
            secret_hash=row.secret_hash,
            app_display_name=row.app_display_name,
            attempt=Attempt(
                upn_key(row.username or ""), ip, throttle.trusted_device(device_cookie, row.found_user_id)
            ),
        )
        try:
            throttle.reserve(checked.attempt)
        except rules.LockedOut:
            # Refused before the pass is looked at, so a locked account reveals nothing about it.
            with store.writing(self.env.db) as connection:
                signin_log.record(
                    connection,
                    self._attempt(
                        checked,
                        ip,
                        signin_log.ACCOUNT_LOCKED,
                        "Account is locked because the user tried to sign in too many times.",
                    ),
                )
            raise
        return checked

    def _attempt(
        self, checked: _Checked, ip: str | None, code: int, reason: str | None
    ) -> signin_log.Attempt:
        return signin_log.Attempt(
            now=self._now,
            method=_PROOF.display_name,
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
        user_id = checked.user_id
        with store.writing(self.env.db) as connection:
            # Read again under the write transaction: the pass may have been replaced, used or
            # made unusable by policy while the hash was being checked.
            found = store.pass_and_policy(connection, user_id)
            if found is None or found[0].id != checked.pass_id:
                raise rules.SignInFailed("The Temporary Access Pass was deleted or replaced.")
            current, policy_row = found
            policy = policy_store.policy_of(policy_row)
            groups = taps_store.group_ids_of(connection, user_id) if policy.needs_group_ids(user_id) else ()
            state = tap_rules.PassState(
                current.start_at, current.lifetime_minutes, current.is_usable_once, current.used_at
            )
            reason = tap_rules.usability(state, policy, targeted=policy.targets(user_id, groups), now=now)
            if reason is not tap_rules.UsabilityReason.ENABLED_BY_POLICY:
                raise rules.SignInFailed(f"The Temporary Access Pass is not usable: {reason.value}.")
            if not store.finish_flow(connection, checked.flow.id, FlowState.PROVE):
                raise rules.FlowExpired()
            if not store.use_pass(connection, current.id, current.secret_hash, now):
                raise rules.SignInFailed("The one-time Temporary Access Pass was already used.")
            if previous_cookie:
                store.end_session_by_hash(connection, self.env.keeper.keyed_hash(previous_cookie), now)
            cookie_value = secrets.token_urlsafe(32)
            view = SessionView(
                id=new_guid(),
                user_id=user_id,
                user_principal_name=checked.user_principal_name or "",
                display_name=checked.display_name or "",
                auth_time=now,
                amr=_PROOF.amr,
                acr=_PROOF.strength.value,
                expires_at=rules.session_end(
                    now,
                    timedelta(minutes=self.env.settings.session_minutes),
                    current.start_at + timedelta(minutes=current.lifetime_minutes),
                ),
                register_by=rules.registration_deadline(now, one_time_pass=current.is_usable_once),
                pass_id=current.id,
            )
            # Only the keyed hash is stored; the value goes to the cookie alone.
            store.add_session(connection, view, self.env.keeper.keyed_hash(cookie_value), ip, now)
            device = self.throttle.succeeded(connection, checked.attempt, user_id)
            signin_log.record(connection, self._attempt(checked, ip, signin_log.SUCCESS, None))
            # Until a person holds a passkey or an authenticator app, a pass leads to "Set up your
            # sign-in methods".
            needs_setup = not passkey_store.holds_strong_method(connection, user_id)
        return SignedIn(
            session=view,
            cookie_value=cookie_value,
            return_to=checked.flow.return_to,
            auth_request=checked.flow.auth_request,
            needs_setup=needs_setup,
            device_cookie=device,
        )

    def _record_failure(self, checked: _Checked, ip: str | None, failure: rules.SignInFailed) -> None:
        # The attempt was counted when it was reserved; the log says what went wrong.
        with store.writing(self.env.db) as connection:
            signin_log.record(connection, self._attempt(checked, ip, failure.error_code, failure.reason))
