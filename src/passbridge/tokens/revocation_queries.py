"""Ending everything a user's past sign-ins left open: browser sessions and refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update

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
