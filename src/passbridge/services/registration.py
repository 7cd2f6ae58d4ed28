"""Who may register or remove their own sign-in methods, and the principal they act as.

Security info changes need a recent strong sign-in: the session began within REAUTH_WINDOW with a pass or
a passkey, or with an authenticator app for someone adding to methods they already hold (a code alone
must not be enough to enrol a first strong credential). Anything older asks the person to sign in again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from passbridge.domain.errors import DomainError, PermissionDenied
from passbridge.domain.strength import Factor, factors_of
from passbridge.services.audit import TargetRef
from passbridge.services.context import Principal
from passbridge.services.sessions import SessionView

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
