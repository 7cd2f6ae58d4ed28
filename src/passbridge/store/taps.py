"""Temporary Access Pass rows."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from passbridge.store.models import TemporaryAccessPass, User

# Built once, so SQLAlchemy computes its cache key once: every method read runs it.
_OF_USER = select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == bindparam("user_id"))


def of_user(session: Session, user_id: str) -> TemporaryAccessPass | None:
    return session.scalars(_OF_USER, {"user_id": user_id}).first()


def lock_owner(session: Session, user_id: str) -> None:
    """Serialise pass changes for one user across transactions and processes.

    PostgreSQL holds the user row until commit, so a second issuer waits, then (read committed)
    sees the first one's pass and replaces it instead of colliding on the unique user_id. SQLite
    needs nothing here: a writing unit already holds the database's write lock (BEGIN IMMEDIATE).
    """
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


def add(session: Session, row: TemporaryAccessPass) -> None:
    session.add(row)
    session.flush()


def remove(session: Session, pass_id: str) -> int:
    # A Core delete reports 0 rows instead of raising when a racing transaction removed it first.
    result = session.execute(delete(TemporaryAccessPass).where(TemporaryAccessPass.id == pass_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def remove_for_user(session: Session, user_id: str) -> int:
    result = session.execute(delete(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
