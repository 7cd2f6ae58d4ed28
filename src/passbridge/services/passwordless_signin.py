"""Sign-in with a passkey or an authenticator-app code: the proofs beside the pass (services/signin.py).

A passkey sign-in needs no username: the browser offers the passkeys it holds for this site
(discoverable credentials), and the answer names its credential, whose owner is the one signing in. If
the person did type a username first, the passkey must be that account's. The challenge is a ceremony
bound to the flow; only a verified answer uses it, in the transaction that finishes the flow and opens
the session, so a cancelled or failed attempt can be retried and a replayed answer is refused. A sign
counter that did not grow (a cloned key) is refused and logged, and so is an unknown or deleted passkey.

Passkeys cannot be guessed, so a passkey sign-in is never throttled: neither a source address's
lockout nor guesses at the account may stand between a person and the one method they are meant to
use. A code is six digits, so codes go through the same throttle as passes (services/throttle.py),
and each code's time step is accepted once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from passbridge.domain import signin as rules
from passbridge.domain import strength
from passbridge.domain.directory import upn_key
from passbridge.domain.signin import FlowState
from passbridge.ids import new_guid
from passbridge.security import webauthn
from passbridge.services import signin_log
from passbridge.services.oath import CODE_MAX, accept_code
from passbridge.services.passkeys import CEREMONY_LIFETIME, SIGN_IN, Started, relying_party, user_id_of_handle
from passbridge.services.policy import method_allowed
from passbridge.services.sessions import SessionView
from passbridge.services.signin import SignedIn, SignInService
from passbridge.services.throttle import Attempt
from passbridge.store import ceremonies
from passbridge.store import passkeys as passkey_store
from passbridge.store import signin as store

FIDO2 = "fido2"
PASSKEY_METHOD = {False: "Passkey (device-bound)", True: "Passkey (synced)"}
CODE_METHOD = "OATH verification code"


@dataclass(frozen=True)
class _Who:
    """Who a proof is about, as far as it is known, for the log and the session."""

    user_id: str | None
    user_principal_name: str | None
    display_name: str | None
    app_id: str | None
    app_display_name: str | None


class PasswordlessSignInService(SignInService):
    # --- passkeys -----------------------------------------------------------------------------

    def passkey_options(
        self, flow_id: str | None, csrf_token: str | None, *, return_to: str | None = None
    ) -> Started:
        """Request options for this flow: no allow list, so the browser offers every passkey it holds
        for this site and nothing here says which accounts have one. The first post of a pending flow
        (login_page) creates it, with its `return_to`."""
        now = self._now
        with store.writing(self.env.db) as connection:
            if flow_id:
                self._stored_flow(connection, flow_id, csrf_token, return_to)
            row = self._checked_flow(connection, flow_id, csrf_token)
            challenge = webauthn.new_challenge()
            ceremony_id = ceremonies.start(
                connection,
                kind=SIGN_IN,
                challenge=challenge,
                now=now,
                lifetime=CEREMONY_LIFETIME,
                flow_id=row.id,
            )
            tenant = store.tenant_name(connection) or "Passbridge"
        options = webauthn.authentication_options(relying_party(self.env, tenant), challenge=challenge)
        return Started(ceremony_id, options)

    def prove_with_passkey(
        self,
        flow_id: str | None,
        csrf_token: str | None,
        ceremony_id: str,
        response: str,
        *,
        ip_address: str | None,
        previous_session_cookie: str | None = None,
        device_cookie: str | None = None,
    ) -> SignedIn:
        """Verify the passkey's answer and finish the flow with a session. SignInFailed (logged),
        FlowExpired or CsrfMismatch; never LockedOut."""
        now = self._now
        with self.env.db.reading(transaction=False) as connection:
            flow = row = self._checked_flow(connection, flow_id, csrf_token)
            tenant = store.tenant_name(connection) or "Passbridge"
            ceremony = ceremonies.get(connection, ceremony_id)
            owner = None
            try:
                assertion = webauthn.read_assertion(response)
                owner = passkey_store.for_sign_in(connection, assertion.credential_id)
            except webauthn.CeremonyFailed:
                assertion = None
            who = _Who(
                owner.passkey.user_id if owner else None,
                owner.user_principal_name if owner else None,
                owner.display_name if owner else None,
                flow.client_id,
                flow.app_display_name,
            )
        method = PASSKEY_METHOD[bool(owner and owner.passkey.backup_eligible)]
        try:
            if ceremony is None or ceremony.kind != SIGN_IN or ceremony.flow_id != row.id:
                raise rules.SignInFailed("The passkey challenge is unknown or belongs to another sign-in.")
            if ceremony.used_at is not None or ceremony.expires_at <= now:
                raise rules.SignInFailed("The passkey challenge was already used or has expired.")
            if assertion is None:
                raise rules.SignInFailed("The passkey answer could not be read.")
            if owner is None:
                raise rules.SignInFailed("The passkey is not registered (unknown or deleted).")
            if assertion.user_handle is not None and user_id_of_handle(assertion.user_handle) != who.user_id:
                raise rules.SignInFailed("The passkey's user handle does not match its owner.")
            if row.user_id is not None and row.user_id != who.user_id:
                raise rules.SignInFailed("The passkey belongs to another account than the username given.")
            if not owner.enabled:
                raise rules.SignInFailed("User account is disabled.", error_code=signin_log.ACCOUNT_DISABLED)
            if not self._allowed(owner.passkey.user_id, FIDO2):
                raise rules.SignInFailed(
                    "Passkeys are turned off for this user by the authentication methods policy."
                )
            try:
                used = webauthn.verify_assertion(
                    relying_party(self.env, tenant),
                    response,
                    challenge=ceremony.challenge,
                    public_key=owner.passkey.public_key,
                    sign_count=owner.passkey.sign_count,
                )
            except webauthn.CeremonyFailed as exc:
                raise rules.SignInFailed(str(exc)) from None
            with store.writing(self.env.db) as connection:
                if not ceremonies.use(connection, ceremony.id, at=now):
                    raise rules.SignInFailed("The passkey challenge was already used.")
                if not passkey_store.record_use(
                    connection,
                    owner.passkey.id,
                    old_count=owner.passkey.sign_count,
                    new_count=used.sign_count,
                    backed_up=used.backed_up,
                    at=now,
                ):
                    raise rules.SignInFailed(
                        "The passkey was used at the same time elsewhere or was deleted."
                    )
                amr = strength.passkey_amr(backup_eligible=owner.passkey.backup_eligible)
                # The owner's name, not the one typed: their pass and code counters start afresh.
                attempt = Attempt(
                    upn_key(owner.user_principal_name),
                    ip_address,
                    self.throttle.trusted_device(device_cookie, who.user_id),
                )
                return self._open_session(
                    connection, flow, who, amr, method, ip_address, previous_session_cookie, now, attempt
                )
        except rules.SignInFailed as failure:
            self._record_attempt(who, method, ip_address, failure)
            raise

    # --- authenticator-app codes -----------------------------------------------------------------

    def prove_with_code(
        self,
        flow_id: str | None,
        csrf_token: str | None,
        code: str,
        *,
        ip_address: str | None,
        previous_session_cookie: str | None = None,
        device_cookie: str | None = None,
    ) -> SignedIn:
        """Check a code from one of the named user's authenticator apps. Failures look the same for an
        unknown user, a user without an app, a wrong code and a replayed one."""
        now = self._now
        with self.env.db.reading(transaction=False) as connection:
            flow = self._checked_flow(connection, flow_id, csrf_token)
            if flow.state != FlowState.PROVE:
                raise rules.FlowExpired()
            found = flow.found_user_id is not None
            who = _Who(
                flow.found_user_id,
                flow.user_principal_name if found else flow.username,
                flow.display_name if found else None,
                flow.client_id,
                flow.app_display_name,
            )
        throttle = self.throttle
        attempt = Attempt(
            upn_key(flow.username or ""), ip_address, throttle.trusted_device(device_cookie, who.user_id)
        )
        try:
            throttle.reserve(attempt)
        except rules.LockedOut:
            self._record_locked(who, CODE_METHOD, ip_address)
            raise
        try:
            if who.user_id is None:
                raise rules.SignInFailed("No account with this username.")
            if not flow.account_enabled:
                raise rules.SignInFailed("User account is disabled.", error_code=signin_log.ACCOUNT_DISABLED)
            with store.writing(self.env.db) as connection:
                if accept_code(connection, self.env, who.user_id, code[:CODE_MAX], at=now) is None:
                    raise rules.SignInFailed("The code was wrong, already used, or the user has no app.")
                return self._open_session(
                    connection,
                    flow,
                    who,
                    strength.AUTHENTICATOR_APP_AMR,
                    CODE_METHOD,
                    ip_address,
                    previous_session_cookie,
                    now,
                    attempt,
                )
        except rules.SignInFailed as failure:
            self._record_attempt(who, CODE_METHOD, ip_address, failure)
            raise

    # --- shared ------------------------------------------------------------------------------------

    def _allowed(self, user_id: str, method: str) -> bool:
        with self.env.db.reading(transaction=False) as connection:
            return method_allowed(connection, user_id, method)

    def _checked_flow(self, connection: Connection, flow_id: str | None, csrf_token: str | None) -> Any:
        """The open flow with its user and application (store/signin.py `flow_for_proof`), once the
        form's CSRF token matches it; FlowExpired or CsrfMismatch otherwise."""
        row = store.flow_for_proof(connection, flow_id) if flow_id else None
        if not self._is_open(row):
            raise rules.FlowExpired()
        self._check_csrf(row, csrf_token)
        return row

    def _open_session(
        self,
        connection: Connection,
        flow: Any,
        who: _Who,
        amr: tuple[str, ...],
        method: str,
        ip: str | None,
        previous_cookie: str | None,
        now: Any,
        attempt: Attempt,
    ) -> SignedIn:
        assert who.user_id is not None
        if not store.finish_flow(connection, flow.id, flow.state):
            raise rules.FlowExpired()
        if previous_cookie:
            store.end_session_by_hash(connection, self.env.keeper.keyed_hash(previous_cookie), now)
        cookie_value = secrets.token_urlsafe(32)
        view = SessionView(
            id=new_guid(),
            user_id=who.user_id,
            user_principal_name=who.user_principal_name or "",
            display_name=who.display_name or "",
            auth_time=now,
            amr=amr,
            acr=strength.acr_for(strength.factors_of(amr)),
            expires_at=now + timedelta(minutes=self.env.settings.session_minutes),
            register_by=None,
            pass_id=None,
        )
        store.add_session(connection, view, self.env.keeper.keyed_hash(cookie_value), ip, now)
        device = self.throttle.succeeded(connection, attempt, who.user_id)
        signin_log.record(connection, self._entry(who, method, ip, signin_log.SUCCESS, None, "mfa" in amr))
        return SignedIn(
            session=view,
            cookie_value=cookie_value,
            return_to=flow.return_to,
            auth_request=flow.auth_request,
            needs_setup=False,
            device_cookie=device,
        )

    def _entry(
        self, who: _Who, method: str, ip: str | None, code: int, reason: str | None, multi_factor: bool = True
    ) -> signin_log.Attempt:
        return signin_log.Attempt(
            now=self._now,
            method=method,
            error_code=code,
            failure_reason=reason,
            user_id=who.user_id,
            user_principal_name=who.user_principal_name,
            user_display_name=who.display_name,
            app_id=who.app_id,
            app_display_name=who.app_display_name,
            ip_address=ip,
            multi_factor=multi_factor,
        )

    def _record_locked(self, who: _Who, method: str, ip: str | None) -> None:
        reason = "Account is locked because the user tried to sign in too many times."
        with store.writing(self.env.db) as connection:
            signin_log.record(connection, self._entry(who, method, ip, signin_log.ACCOUNT_LOCKED, reason))

    def _record_attempt(self, who: _Who, method: str, ip: str | None, failure: rules.SignInFailed) -> None:
        """Log the failure (a code's was counted when it was reserved; a passkey's is no guess)."""
        with store.writing(self.env.db) as connection:
            signin_log.record(connection, self._entry(who, method, ip, failure.error_code, failure.reason))
