"""The sign-in flow: begin, identify, then the one handler that runs every way to prove.

A flow is a stored row (DESIGN.md, "Flows are explicit state"): identify -> prove -> done, so any
server process can continue any flow, and pages, the provider and tests drive the same calls. Every
proof goes through `prove`, whatever the strategy (strategies.py: a pass, a passkey, a code):

  read round    the flow (with its user, their pass, the application) and what the strategy reads,
                on a connection without a transaction;
  throttle      a guessable strategy's attempt is reserved (throttle.py), or refused as LockedOut;
  check         the strategy verifies, holding no connection (Argon2, a WebAuthn signature);
  write round   one transaction: the flow moves to done once (a conditional UPDATE), the strategy
                commits its one-time writes, and finish.py's `finish()` opens the session.
A refused proof writes a sign-in log entry and nothing else; a refusal after the reservation keeps the
attempt counted. Callers run these methods off the event loop: they block on the database and Argon2.

Each step is one database round on prebuilt Core statements (queries.py): the pass sign-in is meant to
cost little more than its one Argon2 verify (bench/README.md, pass sign-ins).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeGuard, TypeVar

from passbridge import metrics
from passbridge.directory.rules import upn_key
from passbridge.domain.errors import InvalidInput
from passbridge.ids import new_guid
from passbridge.logs import signin_log
from passbridge.methods import ceremonies
from passbridge.methods.passkeys import CEREMONY_LIFETIME, SIGN_IN, Started, relying_party
from passbridge.security import webauthn
from passbridge.services.context import Env
from passbridge.signin import queries as store
from passbridge.signin import rules
from passbridge.signin.finish import SignedIn, Who, finish, log_entry
from passbridge.signin.return_to import allowed_return_to, is_local_path
from passbridge.signin.rules import FlowState, Method
from passbridge.signin.strategies import Strategy
from passbridge.signin.throttle import Attempt, Throttle
from passbridge.store.tx import Tx
from passbridge.tokens.authorize import pending_request

USERNAME_MAX = 256
PURGE_EVERY = 64
log = logging.getLogger(__name__)

Found = TypeVar("Found")
Checked = TypeVar("Checked")
F = TypeVar("F", "store.FlowRow", "store.ProofRow")


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
class ProofFlow:
    """An open flow as a proof reads it (queries.py `flow_for_proof`): with the user its name found,
    their pass, and the application it signs in to."""

    view: FlowView
    named_user_id: str | None  # the user the username step recorded (None: none given, or unknown)
    user_id: str | None  # that user, if they still exist
    user_principal_name: str | None
    display_name: str | None
    account_enabled: bool
    pass_id: str | None
    secret_hash: str | None
    app_display_name: str | None

    @classmethod
    def of(cls, row: store.ProofRow) -> ProofFlow:
        found = row.found_user_id is not None
        return cls(
            view=_view(row.flow()),
            named_user_id=row.user_id,
            user_id=row.found_user_id,
            user_principal_name=row.user_principal_name,
            display_name=row.display_name,
            account_enabled=bool(found and row.account_enabled),
            pass_id=row.pass_id,
            secret_hash=row.secret_hash,
            app_display_name=row.app_display_name,
        )


def _view(row: store.FlowRow) -> FlowView:
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


def _housekeeping(tx: Tx, now: datetime) -> None:
    """Rides along with about one new flow in PURGE_EVERY: flows and throttle counters a day past use
    are of no use to anyone, and a delete on every sign-in would cost each one a scan."""
    if secrets.randbelow(PURGE_EVERY) == 0:
        store.purge_flows(tx, now - timedelta(days=1))
        store.purge_counters(tx, now - timedelta(days=1))


@dataclass
class SignInService:
    env: Env

    @property
    def _now(self) -> datetime:
        return self.env.clock.now()

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
        with self.env.db.transaction() as tx:
            return self._begin(
                tx,
                return_to=checked,
                auth_request=auth_request,
                client_id=client_id,
                force_login=force_login,
            )

    def _checked_return_to(self, value: str | None) -> str | None:
        if not value:
            return None
        if is_local_path(value):
            return value
        with self.env.db.transaction("read") as tx:
            return allowed_return_to(tx, value)

    def _begin(
        self,
        tx: Tx,
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
            tx,
            flow_id=flow_id,
            csrf_token=csrf_token,
            return_to=return_to,
            auth_request=auth_request,
            client_id=client_id,
            force_login=force_login,
            created_at=now,
            expires_at=expires_at,
        )
        _housekeeping(tx, now)
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
        with self.env.db.transaction("autocommit") as tx:
            row = store.flow(tx, flow_id) if flow_id else None
            tenant = store.tenant_name(tx)
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
        self, tx: Tx, flow_id: str, csrf_token: str | None, return_to: str | None
    ) -> store.FlowRow | None:
        """The flow's row; a pending flow (login_page) is created first when the post carries the
        token this server gave it, so only a page we served can make a row, and only by posting."""
        row = store.flow(tx, flow_id)
        if row is not None or not csrf_token:
            return row
        expected = self._pending_csrf(flow_id, return_to or None)
        if not hmac.compare_digest(expected.encode(), csrf_token.encode("utf-8", "replace")):
            return None
        now = self._now
        # An anonymous authorization request's flow (oidc/authorize.py) names its application here.
        asked = pending_request(self.env, return_to)
        store.add_flow(
            tx,
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
        _housekeeping(tx, now)
        return store.flow(tx, flow_id)

    def flow(self, flow_id: str | None) -> FlowView:
        """The flow, if it is still open; FlowExpired otherwise."""
        if not flow_id:
            raise rules.FlowExpired()
        with self.env.db.transaction("autocommit") as tx:
            row = store.flow(tx, flow_id)
        if not self._is_open(row):
            raise rules.FlowExpired()
        return _view(row)

    def _is_open(self, row: F | None) -> TypeGuard[F]:
        return row is not None and row.state != FlowState.DONE and row.expires_at > self._now

    @staticmethod
    def _check_csrf(row: store.FlowRow | store.ProofRow, csrf_token: str | None) -> None:
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
        with self.env.db.transaction() as tx:
            row = self._stored_flow(tx, flow_id, csrf_token, return_to)
            if not self._is_open(row):
                raise rules.FlowExpired()
            self._check_csrf(row, csrf_token)
            # Conditional on the flow still being open: a racing finish or expiry wins.
            if not store.identify(tx, flow_id, name, upn_key(name), now):
                raise rules.FlowExpired()
        return replace(
            _view(row), state=FlowState.PROVE, username=name, methods=(Method.TEMPORARY_ACCESS_PASS,)
        )

    def passkey_options(
        self, flow_id: str | None, csrf_token: str | None, *, return_to: str | None = None
    ) -> Started:
        """Request options for this flow: no allow list, so the browser offers every passkey it holds
        for this site and nothing here says which accounts have one. The first post of a pending flow
        (login_page) creates it, with its `return_to`."""
        now = self._now
        with self.env.db.transaction() as tx:
            row = self._stored_flow(tx, flow_id, csrf_token, return_to) if flow_id else None
            if not self._is_open(row):
                raise rules.FlowExpired()
            self._check_csrf(row, csrf_token)
            challenge = webauthn.new_challenge()
            ceremony_id = ceremonies.start(
                tx,
                kind=SIGN_IN,
                challenge=challenge,
                now=now,
                lifetime=CEREMONY_LIFETIME,
                flow_id=row.id,
            )
            tenant = store.tenant_name(tx) or "Passbridge"
        options = webauthn.authentication_options(relying_party(self.env, tenant), challenge=challenge)
        return Started(ceremony_id, options)

    def prove(
        self,
        flow_id: str | None,
        csrf_token: str | None,
        strategy: Strategy[Found, Checked],
        *,
        ip_address: str | None,
        previous_session_cookie: str | None = None,
        device_cookie: str | None = None,
    ) -> SignedIn:
        """Check the proof and, when it holds, finish the flow with a new session (rotated: the
        browser's previous session, if any, ends). Raises FlowExpired or CsrfMismatch (nothing
        logged), LockedOut (a throttled strategy only) or SignInFailed (each logged)."""
        if not flow_id:
            raise rules.FlowExpired()
        # No transaction: the write round checks again whatever could have changed by then (the flow,
        # the pass, the policy, the ceremony).
        with self.env.db.transaction("autocommit") as tx:
            row = store.flow_for_proof(tx, flow_id)
            if not self._is_open(row):
                raise rules.FlowExpired()
            self._check_csrf(row, csrf_token)
            if strategy.needs_username and row.state != FlowState.PROVE:
                raise rules.FlowExpired()
            flow = ProofFlow.of(row)
            found = strategy.read(tx, flow)
        who = strategy.who(flow, found)
        throttle = Throttle(self.env)
        # A guess spends the typed name's counters; a passkey's success clears its owner's.
        name = flow.view.username if strategy.throttled else who.user_principal_name
        attempt = Attempt(
            upn_key(name or ""), ip_address, throttle.trusted_device(device_cookie, who.user_id)
        )
        if strategy.throttled:
            try:
                throttle.reserve(attempt)
            except rules.LockedOut:
                # Refused before the proof is looked at, so a locked account reveals nothing about it.
                reason = "Account is locked because the user tried to sign in too many times."
                self._log(flow, who, ip_address, signin_log.ACCOUNT_LOCKED, reason)
                self._outcome(strategy.method, "locked", who)
                raise
        try:
            checked = strategy.check(self.env, flow, found, self._now)
            now = self._now  # after the slow check: the session begins when it is written
            with self.env.db.transaction() as tx:
                if not store.finish_flow(tx, flow.view.id, flow.view.state):
                    raise rules.FlowExpired()
                worth = strategy.commit(tx, self.env, checked, now)
                signed_in = finish(
                    tx,
                    self.env,
                    flow,
                    who,
                    worth,
                    attempt,
                    ip=ip_address,
                    previous_cookie=previous_session_cookie,
                    now=now,
                )
        except rules.SignInFailed as failure:
            self._log(flow, who, ip_address, failure.error_code, failure.reason)
            self._outcome(strategy.method, "failure", who)
            raise
        # Counted once committed: a sign-in whose transaction failed did not happen.
        self._outcome(strategy.method, "success", who)
        if strategy.method is Method.TEMPORARY_ACCESS_PASS:
            metrics.pass_used()
        return signed_in

    @staticmethod
    def _outcome(method: Method, result: str, who: Who) -> None:
        """For operators: the metric, and a log line naming the user by object id only (the sign-in
        log holds the rest; JSON logs add the request id)."""
        metrics.sign_in(method, result)
        log.info("sign-in %s: %s, user %s", result, method.value, who.user_id or "unknown")

    def _log(self, flow: ProofFlow, who: Who, ip: str | None, code: int, reason: str | None) -> None:
        with self.env.db.transaction() as tx:
            signin_log.record(tx, log_entry(flow, who, ip, self._now, code, reason))
