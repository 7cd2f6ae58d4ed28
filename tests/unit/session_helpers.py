"""A signed-in session for service tests, as a sign-in would leave it (amr, acr, auth_time)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from passbridge.services.context import Env
from passbridge.signin.sessions import SessionView, session_view
from passbridge.store.models import User, UserSession


def signed_in(
    env: Env,
    user: User,
    *,
    amr: tuple[str, ...] = ("tap", "mfa"),
    acr: str = "mfa",
    minutes_ago: int = 0,
    register_by_minutes: int | None = None,
) -> SessionView:
    now = env.clock.now()
    row = UserSession(
        id=str(uuid.uuid4()),
        token_hash=env.keeper.keyed_hash(secrets.token_urlsafe(32)),
        user_id=user.id,
        created_at=now - timedelta(minutes=minutes_ago),
        auth_time=now - timedelta(minutes=minutes_ago),
        amr=list(amr),
        acr=acr,
        expires_at=now + timedelta(hours=8),
        register_by=now + timedelta(minutes=register_by_minutes) if register_by_minutes is not None else None,
        pass_id=None,
        ip_address="127.0.0.1",
    )
    with env.db.transaction() as tx:
        tx.session.add(row)
        tx.session.flush()
        return session_view(row, user)
