"""Passkeys a person registers and manages for themselves (security info), and the WebAuthn checks a
passkey sign-in relies on.

Each ceremony's challenge is a stored row bound to the session (registration) or the sign-in flow
(sign-in), with an expiry. Only a verified answer uses it, in the same transaction that stores the
credential, so a cancelled or failed attempt (wrong origin, a timeout, a bad signature) changes nothing
and can be retried, and a replayed answer finds its challenge used.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.domain.text import check_storable
from passbridge.ids import new_guid
from passbridge.logs import audit
from passbridge.methods import ceremonies
from passbridge.methods import passkey_queries as store
from passbridge.methods.passkey_profiles import Candidate, PasskeyProfile, refusal, steering
from passbridge.methods.passkey_queries import PasskeyRecord
from passbridge.methods.registration import SERVICE, OwnMethodService, acting_user, own_ref
from passbridge.passes.policy import passkey_profile, passkey_registration_allowed
from passbridge.security import webauthn
from passbridge.services.context import Env
from passbridge.services.portal import tenant_name
from passbridge.store.models import Fido2Credential

REGISTER = "passkey-register"
SIGN_IN = "passkey-sign-in"
# The browser gives up after webauthn.TIMEOUT_MS; the stored challenge outlives it by a little.
CEREMONY_LIFETIME = timedelta(milliseconds=webauthn.TIMEOUT_MS) + timedelta(seconds=30)
NAME_MAX = 64
log = logging.getLogger("passbridge.passkeys")


class PasskeyRefused(PermissionDenied):
    """The passkey verified but the user's passkey profile does not accept it. Nothing was stored;
    the edge records the refusal (`record_refusal`) in a transaction of its own."""

    def __init__(self, message: str, profile: PasskeyProfile, aaguid: str, synced: bool) -> None:
        super().__init__(message)
        self.profile_name = profile.name
        self.aaguid = aaguid
        self.synced = synced


@dataclass(frozen=True)
class Started:
    ceremony_id: str
    options: dict[str, Any]  # PublicKeyCredential{Creation,Request}Options, JSON-ready


def relying_party(env: Env, tenant_name: str) -> webauthn.RelyingParty:
    return webauthn.RelyingParty.from_base_url(env.settings.base_url, tenant_name)


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle: the user's object id as 16 bytes, stable and free of personal data."""
    return uuid.UUID(user_id).bytes


def user_id_of_handle(handle: bytes | None) -> str | None:
    if handle is None or len(handle) != 16:
        return None
    return str(uuid.UUID(bytes=handle))


def clean_name(name: str | None, default: str) -> str:
    text = " ".join(check_storable(name or "", what="The name").split())
    if len(text) > NAME_MAX:
        raise InvalidInput(f"Use a name of at most {NAME_MAX} characters.")
    return text or default


@dataclass
class PasskeyService(OwnMethodService):
    """A signed-in person's own passkeys. `view` is their current session."""

    def list(self) -> list[PasskeyRecord]:
        return store.of_user(self.tx, self.view.user_id)

    def begin_registration(self) -> Started:
        self._check()
        if not passkey_registration_allowed(self.tx, self.view.user_id):
            raise PermissionDenied("Your organisation does not let you add passkeys to your account.")
        self._begin()
        steer = steering(passkey_profile(self.tx, self.view.user_id)[0])
        challenge = webauthn.new_challenge()
        ceremony_id = ceremonies.start(
            self.tx,
            kind=REGISTER,
            challenge=challenge,
            now=self.env.clock.now(),
            lifetime=CEREMONY_LIFETIME,
            user_id=self.view.user_id,
            session_id=self.view.id,
        )
        options = webauthn.registration_options(
            relying_party(self.env, tenant_name(self.tx)),
            challenge=challenge,
            user_handle=user_handle(self.view.user_id),
            user_name=self.view.user_principal_name,
            display_name=self.view.display_name,
            exclude=[(p.credential_id, p.transports) for p in self.list()],
            direct_attestation=steer.attestation == "direct",
            prefer_security_key=steer.prefer_security_key,
        )
        return Started(ceremony_id, options)

    def finish_registration(self, ceremony_id: str, response: str, name: str | None = None) -> PasskeyRecord:
        """Verify the browser's answer and store the passkey. CeremonyFailed (nothing changed, try again)
        or NotFound (the ceremony is unknown, someone else's, used or expired)."""
        self._check()
        if not passkey_registration_allowed(self.tx, self.view.user_id):
            raise PermissionDenied("Your organisation does not let you add passkeys to your account.")
        now = self.env.clock.now()
        found = ceremonies.open_ceremony(
            self.tx, ceremony_id, kind=REGISTER, now=now, session_id=self.view.id
        )
        if found is None:
            raise NotFound("This passkey set-up has expired. Start again.", kind="ceremony")
        rp = relying_party(self.env, tenant_name(self.tx))
        profile, roots = passkey_profile(self.tx, self.view.user_id)
        new = webauthn.verify_registration(
            rp, response, challenge=found.challenge, trust_roots=roots, now=now
        )
        # The passkey profile's checks: the only ones between a verified answer and the stored passkey.
        refused = refusal(profile, Candidate(new.aaguid, new.backup_eligible, new.attested))
        if refused is not None:
            raise PasskeyRefused(refused, profile, new.aaguid, new.backup_eligible)
        if store.by_credential_id(self.tx, new.credential_id) is not None:
            raise webauthn.CeremonyFailed("This passkey is already registered.")
        if not ceremonies.use(self.tx, found.id, at=now):
            raise NotFound("This passkey set-up has expired. Start again.", kind="ceremony")
        row = Fido2Credential(
            id=new_guid(),
            user_id=self.view.user_id,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            aaguid=new.aaguid,
            transports=list(new.transports),
            backup_eligible=new.backup_eligible,
            backed_up=new.backed_up,
            attestation_format=new.attestation_format,
            display_name=clean_name(name, "Passkey"),
            created_at=now,
            last_used_at=None,
        )
        store.add(self.tx, row)
        self._registered(passkey=True)
        self._audit("Add", "User registered Fido2 Authentication Method")
        added = store.by_credential_id(self.tx, new.credential_id)
        assert added is not None
        return added

    def record_refusal(self, refused: PasskeyRefused) -> None:
        """Audit a registration the passkey profile refused (a failure entry) and log it."""
        kind = "synced" if refused.synced else "device-bound"
        reason = f"Passkey profile '{refused.profile_name}' refused a {kind} passkey, AAGUID {refused.aaguid}"
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=acting_user(self.view),
            activity="User registered security info",
            category="UserManagement",
            operation_type="Add",
            logged_by_service=SERVICE,
            result="failure",
            result_reason=f"{reason}: {refused.message}"[:512],
            targets=[own_ref(self.view)],
        )
        log.info("passkey refused for user %s: %s", self.view.user_id, reason)

    def rename(self, passkey_id: str, name: str) -> None:
        self._check()
        if not store.rename(self.tx, self.view.user_id, passkey_id, clean_name(name, "Passkey")):
            raise NotFound("That passkey no longer exists.", kind="method")

    def delete(self, passkey_id: str) -> None:
        self._check()
        if not store.remove(self.tx, self.view.user_id, passkey_id):
            raise NotFound("That passkey no longer exists.", kind="method")
        self._audit("Delete", "User deleted Fido2 Authentication Method")
