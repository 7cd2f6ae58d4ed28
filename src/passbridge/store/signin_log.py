"""Sign-in log entries (Graph's `/auditLogs/signIns`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from passbridge.store.models import SignInLogEntry


def add(session: Session, row: SignInLogEntry) -> None:
    session.add(row)
    session.flush()
