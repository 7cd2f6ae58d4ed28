"""The SQL of purpose-bound passes (passes/burn.py): claiming an enrol or recover one-time pass at
sign-in, counting the set-ups begun with it, burning it at the first registration, and ending sessions
once a recovery succeeds. Every write is conditional, so racing requests count and burn exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Table, bindparam, update

from passbridge.store.models import RefreshTokenRow, TemporaryAccessPass, UserSession
from passbridge.store.tx import Tx

_PASSES: Table = TemporaryAccessPass.__table__  # type: ignore[assignment]
_UNSPENT = (
    _PASSES.c.id == bindparam("pass_id"),
    _PASSES.c.used_at.is_(None),
    _PASSES.c.attempts < bindparam("limit"),
)
_FIRST_CLAIM = (
    update(_PASSES)
    .where(*_UNSPENT, _PASSES.c.secret_hash == bindparam("verified_hash"), _PASSES.c.last_used_at.is_(None))
    .values(last_used_at=bindparam("used_now"), attempts=_PASSES.c.attempts + 1)
)
_CLAIM = (
    update(_PASSES)
    .where(*_UNSPENT, _PASSES.c.secret_hash == bindparam("verified_hash"))
    .values(last_used_at=bindparam("used_now"), attempts=_PASSES.c.attempts + 1)
)
_ATTEMPT = update(_PASSES).where(*_UNSPENT).values(attempts=_PASSES.c.attempts + 1)
_BURN = (
    update(_PASSES)
    .where(
        _PASSES.c.id == bindparam("pass_id"),
        _PASSES.c.is_usable_once.is_(True),
        _PASSES.c.used_at.is_(None),
    )
    .values(used_at=bindparam("used_now"))
)


def claim(
    tx: Tx, pass_id: str, secret_hash: str, now: datetime, limit: int
) -> Literal["first", "again"] | None:
    """A sign-in with a pass that burns on success: counted, its time recorded, but not used up. "first"
    for its first sign-in (the holder is told), "again" for a later one, None when it was burned, spent
    its attempts, or was replaced since it was verified."""
    params = {"pass_id": pass_id, "verified_hash": secret_hash, "used_now": now, "limit": limit}
    if int(tx.execute(_FIRST_CLAIM, params).rowcount) == 1:
        return "first"
    return "again" if int(tx.execute(_CLAIM, params).rowcount) == 1 else None


def count_attempt(tx: Tx, pass_id: str, limit: int) -> bool:
    """Count a set-up begun with the pass; False when it is burned or its attempts are spent."""
    return int(tx.execute(_ATTEMPT, {"pass_id": pass_id, "limit": limit}).rowcount) == 1


def burn(tx: Tx, pass_id: str, now: datetime) -> bool:
    """Use a one-time pass up; False when it was already, is multi-use, or no longer exists."""
    return int(tx.execute(_BURN, {"pass_id": pass_id, "used_now": now}).rowcount) == 1


def end_other_sessions(tx: Tx, user_id: str, keep_session_id: str, now: datetime) -> int:
    """End every open session of the user but `keep_session_id`, and revoke all their refresh tokens
    (a purpose-bound session has none of its own); the number of sessions ended."""
    ended = tx.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.id != keep_session_id,
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=now)
    ).rowcount
    tx.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.user_id == user_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(ended)
