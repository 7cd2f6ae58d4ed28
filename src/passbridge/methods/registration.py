"""Who may register or remove their own sign-in methods, and the principal they act as.

Security info changes need a recent multi-factor sign-in: the session began within REAUTH_WINDOW and
proved more than one factor (a pass or a passkey alone does, as Entra counts them; a code from an
authenticator app does only together with something else). Entra asks for MFA before anyone registers
security info, because a method added from a single-factor session would raise that session's strength:
a code alone could otherwise enrol a passkey, which then meets phishing-resistant MFA. Renaming and
removing need the same: whoever holds only a code must not strip the owner's passkeys (the owner would
then have nothing stronger than the code the attacker holds) nor relabel them to mislead. A single-factor
session may still look at its methods. Anything older than REAUTH_WINDOW asks the person to sign in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.logs import audit
from passbridge.logs.audit import TargetRef
from passbridge.methods import ceremonies
from passbridge.methods.strength import factors_of
from passbridge.passes import burn
from passbridge.services.context import Env, Principal
from passbridge.signin.sessions import SessionView
from passbridge.store.tx import Tx

REAUTH_WINDOW = timedelta(minutes=10)
# What a person acting on their own methods holds, as Entra's My Sign-ins does.
OWN_METHODS_SCOPES = frozenset({"UserAuthenticationMethod.ReadWrite", "UserAuthenticationMethod.Read"})
SERVICE = "Authentication Methods"


class ReauthenticationRequired(DomainError):
    """The session is too old to change sign-in methods: sign in again first."""

    def __init__(self) -> None:
        super().__init__("For your security, sign in again before changing your sign-in methods.")


class SingleFactorSession(PermissionDenied):
    """The session proved one factor only (a code alone): it may look at methods, never change them."""

    def __init__(self) -> None:
        super().__init__(
            "You signed in with a code from your authenticator app alone, which is one factor. To add, "
            "rename or remove sign-in methods, sign in again with a passkey or a Temporary Access Pass "
            "(your helpdesk can issue one)."
        )


def is_multi_factor(amr: tuple[str, ...] | list[str]) -> bool:
    """Whether a sign-in with this `amr` proved more than one factor: `mfa` (a pass, a passkey with
    user verification), or two distinct methods (a code plus something else)."""
    return "mfa" in amr or len(factors_of(amr)) >= 2


def check_may_change(view: SessionView, now: datetime) -> None:
    """Refuse a change to one's own methods: ReauthenticationRequired for an old sign-in,
    SingleFactorSession for one that proved a single factor."""
    if now - view.auth_time > REAUTH_WINDOW:
        raise ReauthenticationRequired()
    if not is_multi_factor(view.amr):
        raise SingleFactorSession()


def acting_user(view: SessionView, ip_address: str | None = None) -> Principal:
    return Principal(
        kind="user",
        id=view.user_id,
        display_name=view.display_name,
        user_principal_name=view.user_principal_name,
        scopes=OWN_METHODS_SCOPES,
        ip_address=ip_address,
    )


def own_ref(view: SessionView) -> TargetRef:
    return TargetRef("User", view.user_id, view.display_name, view.user_principal_name)


@dataclass
class OwnMethodService:
    """What changing one's own methods shares: the session's age and factors, and the audit entry."""

    tx: Tx
    env: Env
    view: SessionView

    def _check(self) -> None:
        check_may_change(self.view, self.env.clock.now())

    def _begin(self) -> None:
        """A set-up starts: counted against a pass that burns on success (passes/burn.py)."""
        burn.count_setup(self.tx, self.view)

    def _registered(self, *, passkey: bool) -> None:
        """A method was stored: the one-time pass's ten-minute window no longer ends the session, and
        the pass that opened it answers for its purpose (passes/burn.py)."""
        ceremonies.close_registration_window(self.tx, self.view.id)
        burn.after_registration(self.tx, self.env, self.view, passkey=passkey)

    def _audit(self, operation: str, reason: str) -> None:
        verb = "registered" if operation == "Add" else "deleted"
        audit.record(
            self.tx,
            now=self.env.clock.now(),
            principal=acting_user(self.view),
            activity=f"User {verb} security info",
            category="UserManagement",
            operation_type=operation,
            logged_by_service=SERVICE,
            result_reason=reason,
            targets=[own_ref(self.view)],
        )
