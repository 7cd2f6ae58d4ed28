"""Authenticator apps (TOTP) a person sets up and manages for themselves, and the code check a sign-in
with one relies on.

Set-up is a ceremony: a new seed is made, sealed into the ceremony row, and shown once (QR code and text);
the app is saved only when the person types a valid current code, and that code's time step is recorded
so it cannot be used again to sign in. A wrong code leaves the ceremony open to try again; reloading the
page starts a new one with a new seed. Seeds are sealed under the pepper-derived key (security/secrets.py),
so the database alone does not reveal them, and no page, response or log shows a seed after set-up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.ids import new_guid
from passbridge.methods import ceremonies
from passbridge.methods import oath_queries as store
from passbridge.methods.oath_queries import OathRecord
from passbridge.methods.passkeys import clean_name
from passbridge.methods.registration import OwnMethodService
from passbridge.passes.policy import method_allowed
from passbridge.security import otp
from passbridge.services.context import Env
from passbridge.services.portal import tenant_name
from passbridge.store.models import SoftwareOathMethod
from passbridge.store.tx import Tx

SET_UP = "totp-setup"
SOFTWARE_OATH = "softwareOath"
SET_UP_LIFETIME = timedelta(minutes=10)
CODE_MAX = 32  # generous for spaces; anything longer is not a code


def _seal_context(user_id: str) -> bytes:
    # Binding the seal to the user means a sealed seed copied onto another user's row does not open.
    return f"totp-seed|{user_id}".encode()


@dataclass(frozen=True)
class SetUp:
    ceremony_id: str
    secret: str  # shown this once, for manual entry
    uri: str  # otpauth:// for the QR code
    qr_svg: str


@dataclass
class AuthenticatorAppService(OwnMethodService):
    """A signed-in person's own authenticator apps. `view` is their current session."""

    def list(self) -> list[OathRecord]:
        return store.of_user(self.tx, self.view.user_id)

    def _check_policy(self) -> None:
        if not method_allowed(self.tx, self.view.user_id, SOFTWARE_OATH):
            raise PermissionDenied("Your organisation does not let you use an authenticator app.")

    def begin_setup(self) -> SetUp:
        self._check()
        self._check_policy()
        self._begin()
        secret = otp.new_secret()
        ceremony_id = ceremonies.start(
            self.tx,
            kind=SET_UP,
            challenge=uuid.uuid4().hex,  # unused for TOTP: the seed is what the ceremony holds
            now=self.env.clock.now(),
            lifetime=SET_UP_LIFETIME,
            user_id=self.view.user_id,
            session_id=self.view.id,
            secret_sealed=self.env.keeper.seal(secret.encode(), _seal_context(self.view.user_id)),
        )
        return self._shown(ceremony_id, secret)

    def _open_setup(self, ceremony_id: str) -> tuple[str, str]:
        """The open set-up's (sealed, plain) seed, if it is this session's and still open."""
        found = ceremonies.open_ceremony(
            self.tx, ceremony_id, kind=SET_UP, now=self.env.clock.now(), session_id=self.view.id
        )
        if found is None or found.secret_sealed is None:
            raise NotFound("This authenticator app set-up has expired. Start again.", kind="ceremony")
        secret = self.env.keeper.unseal(found.secret_sealed, _seal_context(self.view.user_id)).decode()
        return found.secret_sealed, secret

    def resume(self, ceremony_id: str) -> SetUp:
        """The same open set-up again (after a wrong code): same seed, still unsaved."""
        self._check()
        _, secret = self._open_setup(ceremony_id)
        return self._shown(ceremony_id, secret)

    def _shown(self, ceremony_id: str, secret: str) -> SetUp:
        issuer = tenant_name(self.tx)
        uri = otp.provisioning_uri(secret, account=self.view.user_principal_name, issuer=issuer)
        return SetUp(ceremony_id, secret, uri, otp.qr_svg(uri))

    def finish_setup(self, ceremony_id: str, code: str, name: str | None = None) -> OathRecord:
        """Save the app once `code` is valid for the seed shown. InvalidInput for a wrong code (try
        again), NotFound for an unknown, used or expired set-up."""
        self._check()
        self._check_policy()
        now = self.env.clock.now()
        sealed, secret = self._open_setup(ceremony_id)
        step = otp.matching_step(secret, code[:CODE_MAX], at=now)
        if step is None:
            raise InvalidInput("That code didn't match. Enter the 6-digit code your app shows now.")
        if not ceremonies.use(self.tx, ceremony_id, at=now):
            raise NotFound("This authenticator app set-up has expired. Start again.", kind="ceremony")
        row = SoftwareOathMethod(
            id=new_guid(),
            user_id=self.view.user_id,
            secret_sealed=sealed,
            display_name=clean_name(name, "Authenticator app"),
            last_step=step,
            created_at=now,
            last_used_at=None,
        )
        store.add(self.tx, row)
        self._registered(passkey=False)
        self._audit("Add", "User registered Software Oath Authentication Method")
        return next(r for r in self.list() if r.id == row.id)

    def rename(self, method_id: str, name: str) -> None:
        self._check()
        if not store.rename(self.tx, self.view.user_id, method_id, clean_name(name, "Authenticator app")):
            raise NotFound("That authenticator app no longer exists.", kind="method")

    def delete(self, method_id: str) -> None:
        self._check()
        if not store.remove(self.tx, self.view.user_id, method_id):
            raise NotFound("That authenticator app no longer exists.", kind="method")
        self._audit("Delete", "User deleted Software Oath Authentication Method")


def accept_code(tx: Tx, env: Env, user_id: str, code: str, *, at: datetime) -> OathRecord | None:
    """The user's authenticator app that `code` is valid for now, once its time step is recorded as used;
    None when no app of theirs accepts it, the step was already used (a replay), or the policy turned
    authenticator apps off for them. Runs in the caller's write transaction, so the step is used only if
    the sign-in it proves is committed."""
    if not method_allowed(tx, user_id, SOFTWARE_OATH):
        return None
    for method in store.of_user(tx, user_id):
        secret = env.keeper.unseal(method.secret_sealed, _seal_context(user_id)).decode()
        step = otp.matching_step(secret, code[:CODE_MAX], at=at)
        if step is not None and store.accept_step(tx, method.id, step, at=at):
            return method
    return None
