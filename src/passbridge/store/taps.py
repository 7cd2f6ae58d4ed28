"""Temporary Access Pass rows."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from passbridge.store.models import TemporaryAccessPass


def of_user(session: Session, user_id: str) -> TemporaryAccessPass | None:
    return session.scalars(select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id)).first()


def remove_for_user(session: Session, user_id: str) -> int:
    result = session.execute(delete(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
