"""Revoking a user's sign-in sessions (Graph's revokeSignInSessions), and the recovery rule that calls it.

One function does it for every cause, so they cannot drift apart: the user's browser sessions end, their
refresh tokens are revoked, and `sessions_valid_from` moves to now, which voids every delegated access
token issued before it (tokens/service.py checks each one against the store on every call) and every
refresh token and session begun before it. An administrator (anyone but the user) deleting the user's
passkey or authenticator app, or issuing them a Temporary Access Pass, calls it: a lost or stolen device
must not keep the sessions it opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from passbridge.directory import access
from passbridge.directory import queries as directory_store
from passbridge.directory.rules import ADMIN_ROLES, Role
from passbridge.directory.service import USER_ADMINISTRATOR_MAY_MANAGE, DirectoryService, user_ref
from passbridge.domain.errors import PermissionDenied
from passbridge.logs import audit
from passbridge.services.context import Env, Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx
from passbridge.tokens import revocation_queries as store

# Graph: User.RevokeSessions.All (least privileged), User.ReadWrite.All, Directory.ReadWrite.All.
REVOKE = ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
ACTIVITY = "Invalidate all refresh tokens for user"  # Entra's directory audit activity for this


@dataclass(frozen=True)
class Revoked:
    sessions_ended: int
    refresh_tokens_revoked: int


def revoke_sign_in_sessions(tx: Tx, env: Env, principal: Principal, user: User, *, reason: str) -> Revoked:
    """End all of `user`'s sign-ins now, in the caller's unit of work, with an audit entry saying why.
    The caller has checked that `principal` may."""
    now = env.clock.now()
    user.sessions_valid_from = now
    revoked = Revoked(store.end_sessions(tx, user.id, now), store.revoke_refresh_tokens(tx, user.id, now))
    audit.record(
        tx,
        now=now,
        principal=principal,
        activity=ACTIVITY,
        category="UserManagement",
        operation_type="Update",
        result_reason=reason,
        targets=[user_ref(user)],
    )
    return revoked


def revoke_after_admin_change(
    tx: Tx, env: Env, principal: Principal, user: User, *, what: str
) -> Revoked | None:
    """The recovery rule: when someone other than the user changes their methods (`what` says how),
    the user's sign-ins end. The user acting on their own methods keeps their session."""
    if principal.kind == "user" and principal.id == user.id:
        return None
    return revoke_sign_in_sessions(tx, env, principal, user, reason=f"Sign-in sessions revoked: {what}")


def _check_tier(tx: Tx, principal: Principal, user: User) -> None:
    """Delegated callers acting on someone else need a role that may revoke that user's sessions."""
    roles = principal.roles
    if Role.GLOBAL_ADMINISTRATOR in roles or Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR in roles:
        return
    held = {r for r in directory_store.role_ids_of(tx, user.id)}
    if Role.USER_ADMINISTRATOR in roles and not held - {r.value for r in USER_ADMINISTRATOR_MAY_MANAGE}:
        return
    if Role.AUTHENTICATION_ADMINISTRATOR in roles and not held & {r.value for r in ADMIN_ROLES}:
        return
    if roles & {Role.USER_ADMINISTRATOR, Role.AUTHENTICATION_ADMINISTRATOR}:
        raise PermissionDenied(
            "Revoking the sessions of a user who holds a privileged administrator role needs the "
            "Privileged Authentication Administrator or Global Administrator role."
        )
    raise PermissionDenied(
        "Revoking another user's sign-in sessions needs the User Administrator, Authentication "
        "Administrator, Privileged Authentication Administrator or Global Administrator role."
    )


@dataclass
class RevocationService:
    tx: Tx
    env: Env
    principal: Principal

    def revoke(self, user_ref_text: str) -> Revoked:
        """Graph's POST /users/{id}/revokeSignInSessions (and /me/...). Checks run permission (403),
        user (404), role tier (403)."""
        access.require_app_permission(self.principal, *REVOKE)
        user = DirectoryService(self.tx, self.env, self.principal).find_user(user_ref_text)
        is_self = self.principal.kind == "user" and self.principal.id == user.id
        if self.principal.kind == "user" and not is_self:
            _check_tier(self.tx, self.principal, user)
        reason = "User revoked their own sign-in sessions" if is_self else "Sign-in sessions revoked for user"
        return revoke_sign_in_sessions(self.tx, self.env, self.principal, user, reason=reason)
