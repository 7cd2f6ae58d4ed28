"""Who may register or remove their own sign-in methods, and the principal they act as.

Security info changes need a recent strong sign-in: the session began within REAUTH_WINDOW with a pass or
a passkey, or with an authenticator app for someone adding to methods they already hold (a code alone
must not be enough to enrol a first strong credential). Anything older asks the person to sign in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.domain.strength import Factor, factors_of
from passbridge.services import audit
from passbridge.services.audit import TargetRef
from passbridge.services.context import Env, Principal
from passbridge.services.sessions import SessionView
from passbridge.store import passkeys as passkey_store

REAUTH_WINDOW = timedelta(minutes=10)
# What a person acting on their own methods holds, as Entra's My Sign-ins does.
OWN_METHODS_SCOPES = frozenset({"UserAuthenticationMethod.ReadWrite", "UserAuthenticationMethod.Read"})
SERVICE = "Authentication Methods"


class ReauthenticationRequired(DomainError):
    """The session is too old to change sign-in methods: sign in again first."""

    def __init__(self) -> None:
        super().__init__("For your security, sign in again before changing your sign-in methods.")


def check_may_change(view: SessionView, now: datetime, *, holds_strong_method: bool) -> None:
    if now - view.auth_time > REAUTH_WINDOW:
        raise ReauthenticationRequired()
    proved = factors_of(view.amr)
    if proved & {Factor.TEMPORARY_ACCESS_PASS, Factor.PASSKEY}:
        return
    if Factor.AUTHENTICATOR_APP in proved and holds_strong_method:
        return
    raise PermissionDenied(
        "Sign in with a passkey or a Temporary Access Pass to change your sign-in methods."
    )


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
    """What changing one's own methods shares: the session-age and method check, and the audit entry."""

    session: Session
    env: Env
    view: SessionView

    def _check(self) -> None:
        check_may_change(
            self.view,
            self.env.clock.now(),
            holds_strong_method=passkey_store.holds_strong_method(self.session, self.view.user_id),
        )

    def _audit(self, operation: str, reason: str) -> None:
        verb = "registered" if operation == "Add" else "deleted"
        audit.record(
            self.session,
            now=self.env.clock.now(),
            principal=acting_user(self.view),
            activity=f"User {verb} security info",
            category="UserManagement",
            operation_type=operation,
            logged_by_service=SERVICE,
            result_reason=reason,
            targets=[own_ref(self.view)],
        )
