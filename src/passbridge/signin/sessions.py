"""Browser sessions: which user a session cookie stands for, and ending sessions.

A session is valid while it has not ended, has not expired (a pass sign-in's session expires with the
pass), its user is enabled and has not had their sessions revoked since, and, after a one-time pass,
while the registration window is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passbridge.services.context import Env
from passbridge.signin import queries as store
from passbridge.store.models import User, UserSession

# A cookie value longer than this is not one of ours (ours are 43 characters); refuse it unhashed.
COOKIE_MAX = 128


@dataclass(frozen=True)
class SessionView:
    id: str
    user_id: str
    user_principal_name: str
    display_name: str
    auth_time: datetime
    amr: tuple[str, ...]
    acr: str
    expires_at: datetime
    register_by: datetime | None
    pass_id: str | None
    # The purpose of the pass that began the session (passes/rules.py Purpose value), None without one.
    pass_purpose: str | None = None


def session_view(row: UserSession, user: User) -> SessionView:
    return SessionView(
        id=row.id,
        user_id=user.id,
        user_principal_name=user.user_principal_name,
        display_name=user.display_name,
        auth_time=row.auth_time,
        amr=tuple(row.amr),
        acr=row.acr,
        expires_at=row.expires_at,
        register_by=row.register_by,
        pass_id=row.pass_id,
        pass_purpose=row.pass_purpose,
    )


def is_valid(row: UserSession, user: User, now: datetime) -> bool:
    return (
        row.ended_at is None
        and now < row.expires_at
        and (row.register_by is None or now < row.register_by)
        and user.account_enabled
        and row.created_at >= user.sessions_valid_from
    )


@dataclass
class SessionService:
    env: Env

    def current(self, cookie_value: str | None) -> SessionView | None:
        """The session the cookie names, if it is still valid; None for anything else."""
        if not cookie_value or len(cookie_value) > COOKIE_MAX:
            return None
        token_hash = self.env.keeper.keyed_hash(cookie_value)
        with self.env.db.transaction("read") as tx:
            found = store.session_by_hash(tx, token_hash)
            if found is None:
                return None
            row, user = found
            if not is_valid(row, user, self.env.clock.now()):
                return None
            return session_view(row, user)

    def csrf_token(self, view: SessionView) -> str:
        """The token every form posted inside this session carries (sign out, security info):
        derived from the session id with the pepper, so it needs no storage and dies with the session."""
        return self.env.keeper.keyed_hash(f"csrf|{view.id}")

    def check_csrf(self, view: SessionView, presented: str | None) -> bool:
        return bool(presented) and self.env.keeper.keyed_hash_matches(f"csrf|{view.id}", presented or "")

    def end(self, cookie_value: str | None) -> bool:
        """Sign out: the session stops working in every process at once. True if one was ended."""
        if not cookie_value or len(cookie_value) > COOKIE_MAX:
            return False
        with self.env.db.transaction() as tx:
            found = store.session_by_hash(tx, self.env.keeper.keyed_hash(cookie_value))
            if found is None or found[0].ended_at is not None:
                return False
            store.end_session(tx, found[0].id, self.env.clock.now())
            return True
