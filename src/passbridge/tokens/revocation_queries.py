"""Ending everything a user's past sign-ins left open: browser sessions and refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from passbridge.store.models import RefreshTokenRow, UserSession
from passbridge.store.tx import Tx

_END_SESSIONS = (
    update(UserSession)
    .where(UserSession.user_id == bindparam("owner_id"), UserSession.ended_at.is_(None))
    .values(ended_at=bindparam("revoked_now"))
)
_REVOKE_REFRESH_TOKENS = (
    update(RefreshTokenRow)
    .where(RefreshTokenRow.user_id == bindparam("owner_id"), RefreshTokenRow.revoked_at.is_(None))
    .values(revoked_at=bindparam("revoked_now"))
)


def end_sessions(tx: Tx, user_id: str, now: datetime) -> int:
    """End every open browser session of the user; the number ended."""
    result = tx.connection().execute(_END_SESSIONS, {"owner_id": user_id, "revoked_now": now})
    return int(result.rowcount)


def revoke_refresh_tokens(tx: Tx, user_id: str, now: datetime) -> int:
    """Revoke every refresh token of the user not yet revoked; the number revoked."""
    result = tx.connection().execute(_REVOKE_REFRESH_TOKENS, {"owner_id": user_id, "revoked_now": now})
    return int(result.rowcount)


def end_sessions_of_pass(tx: Tx, user_id: str, pass_id: str, now: datetime) -> list[str]:
    """End every open session begun with this pass and revoke the refresh tokens issued from them (a
    code not yet exchanged dies with its session: tokens/oidc.py find_code). The ids of the sessions
    ended. By the user first: their index finds the few rows to look at."""
    ended = [
        str(session_id)
        for session_id in tx.execute(
            update(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.pass_id == pass_id,
                UserSession.ended_at.is_(None),
            )
            .values(ended_at=now)
            .returning(UserSession.id)
        ).scalars()
    ]
    # Sessions already ended may still have live refresh tokens: revoke by every session of the pass.
    begun = select(UserSession.id).where(UserSession.user_id == user_id, UserSession.pass_id == pass_id)
    tx.execute(
        update(RefreshTokenRow)
        .where(
            RefreshTokenRow.user_id == user_id,
            RefreshTokenRow.session_id.in_(begun),
            RefreshTokenRow.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return ended
