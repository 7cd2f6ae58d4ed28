"""Helpers for the passkey, authenticator-app, revocation and method-configuration tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from passbridge.services.context import Env
from passbridge.store.models import (
    AuditEntry,
    Fido2Credential,
    MethodConfigurationRow,
    MethodsPolicyRow,
    RefreshTokenRow,
    SoftwareOathMethod,
    TemporaryAccessPass,
    User,
    UserSession,
)

FIDO2_TYPE = "#microsoft.graph.fido2AuthenticationMethod"
OATH_TYPE = "#microsoft.graph.softwareOathAuthenticationMethod"
WRITE = "UserAuthenticationMethod.ReadWrite.All"
READ = "UserAuthenticationMethod.Read.All"


def fido2_url(user: str, version: str = "v1.0") -> str:
    return f"/{version}/users/{user}/authentication/fido2Methods"


def oath_url(user: str, version: str = "v1.0") -> str:
    return f"/{version}/users/{user}/authentication/softwareOathMethods"


def store_snapshot(env: Env) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was: methods, sessions, tokens, policy, audit."""
    with env.db.transaction("read") as tx:
        passkeys = sorted(
            (r.id, r.user_id, r.display_name, r.sign_count)
            for r in tx.session.scalars(select(Fido2Credential))
        )
        apps = sorted(
            (r.id, r.user_id, r.display_name) for r in tx.session.scalars(select(SoftwareOathMethod))
        )
        passes = sorted((r.id, r.user_id) for r in tx.session.scalars(select(TemporaryAccessPass)))
        users = sorted((u.id, u.sessions_valid_from) for u in tx.session.scalars(select(User)))
        sessions = sorted((s.id, s.ended_at) for s in tx.session.scalars(select(UserSession)))
        tokens = sorted((t.id, t.revoked_at) for t in tx.session.scalars(select(RefreshTokenRow)))
        configs = sorted(
            (c.id, c.state, str(c.include_targets), str(c.exclude_targets), str(c.settings))
            for c in tx.session.scalars(select(MethodConfigurationRow))
        )
        stamp = [(s.version, s.last_modified) for s in tx.session.scalars(select(MethodsPolicyRow))]
        audits = tx.session.scalar(select(func.count()).select_from(AuditEntry))
    return passkeys, apps, passes, users, sessions, tokens, configs, stamp, audits


def open_session(env: Env, user: User, *, with_refresh_token: bool = True) -> tuple[str, str | None]:
    """A browser session (and a refresh token issued from it) as a sign-in leaves them: their ids."""
    now = env.clock.now()
    session_id, token_id = str(uuid.uuid4()), str(uuid.uuid4()) if with_refresh_token else None
    with env.db.transaction() as tx:
        tx.session.add(
            UserSession(
                id=session_id,
                token_hash=uuid.uuid4().hex,
                user_id=user.id,
                created_at=now,
                auth_time=now,
                amr=["fido", "mfa"],
                acr="1",
                expires_at=now + timedelta(hours=8),
                register_by=None,
                pass_id=None,
                ip_address="192.0.2.1",
                ended_at=None,
            )
        )
        if token_id is not None:
            tx.session.add(
                RefreshTokenRow(
                    id=token_id,
                    token_hash=uuid.uuid4().hex,
                    family_id=str(uuid.uuid4()),
                    client_id=str(uuid.uuid4()),
                    user_id=user.id,
                    session_id=session_id,
                    scope="openid offline_access",
                    auth_time=now,
                    amr=["fido", "mfa"],
                    acr="1",
                    not_after=now + timedelta(days=1),
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                    used_at=None,
                    revoked_at=None,
                )
            )
    return session_id, token_id


def session_state(env: Env, session_id: str, token_id: str | None) -> tuple[Any, Any]:
    """(ended_at of the session, revoked_at of the refresh token)."""
    with env.db.transaction("read") as tx:
        ended = tx.session.get_one(UserSession, session_id).ended_at
        revoked = tx.session.get_one(RefreshTokenRow, token_id).revoked_at if token_id else None
    return ended, revoked
