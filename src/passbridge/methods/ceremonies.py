"""Ceremony rows: challenges waiting for an answer (WebAuthn registration and sign-in, authenticator-app
set-up). Used at most once, by a conditional UPDATE, so two racing answers cannot both succeed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from passbridge.ids import new_guid
from passbridge.store.models import Ceremony, UserSession
from passbridge.store.tx import Tx


@dataclass(frozen=True)
class CeremonyRecord:
    id: str
    kind: str
    user_id: str | None
    session_id: str | None
    flow_id: str | None
    challenge: str
    secret_sealed: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


_BY_ID = select(*Ceremony.__table__.columns).where(Ceremony.id == bindparam("id"))


def _record(row: Any) -> CeremonyRecord:
    v = row._mapping
    return CeremonyRecord(
        v["id"],
        v["kind"],
        v["user_id"],
        v["session_id"],
        v["flow_id"],
        v["challenge"],
        v["secret_sealed"],
        v["created_at"],
        v["expires_at"],
        v["used_at"],
    )


def add(tx: Tx, row: Ceremony) -> None:
    values = {column.key: getattr(row, column.key) for column in Ceremony.__table__.columns}
    tx.connection().execute(insert(Ceremony), [values])


def get(tx: Tx, ceremony_id: str) -> CeremonyRecord | None:
    row = tx.connection().execute(_BY_ID, {"id": ceremony_id}).first()
    return _record(row) if row is not None else None


def use(tx: Tx, ceremony_id: str, *, at: datetime) -> bool:
    """Mark the ceremony used; False when it already was (a replayed answer) or is gone or expired."""
    result = tx.execute(
        update(Ceremony)
        .where(Ceremony.id == ceremony_id, Ceremony.used_at.is_(None), Ceremony.expires_at > at)
        .values(used_at=at)
    )
    return bool(result.rowcount)


PURGE_EVERY = 64


def purge(tx: Tx, before: datetime) -> None:
    tx.execute(delete(Ceremony).where(Ceremony.expires_at < before))


def close_registration_window(tx: Tx, session_id: str) -> None:
    """A method was registered in this session: the ten-minute window a one-time pass left for that no
    longer ends the session (it still ends with the pass)."""
    tx.execute(update(UserSession).where(UserSession.id == session_id).values(register_by=None))


def start(
    tx: Tx,
    *,
    kind: str,
    challenge: str,
    now: datetime,
    lifetime: timedelta,
    user_id: str | None = None,
    session_id: str | None = None,
    flow_id: str | None = None,
    secret_sealed: str | None = None,
) -> str:
    """Store a new ceremony and return its id. About one start in PURGE_EVERY also deletes ceremonies
    a day past expiry: nobody can answer those, and a delete on every start would cost each a scan."""
    ceremony_id = new_guid()
    add(
        tx,
        Ceremony(
            id=ceremony_id,
            kind=kind,
            user_id=user_id,
            session_id=session_id,
            flow_id=flow_id,
            challenge=challenge,
            secret_sealed=secret_sealed,
            created_at=now,
            expires_at=now + lifetime,
            used_at=None,
        ),
    )
    if secrets.randbelow(PURGE_EVERY) == 0:
        purge(tx, now - timedelta(days=1))
    return ceremony_id


def open_ceremony(
    tx: Tx,
    ceremony_id: str,
    *,
    kind: str,
    now: datetime,
    session_id: str | None = None,
    flow_id: str | None = None,
) -> CeremonyRecord | None:
    """The ceremony if it is of this kind, belongs to this session (or flow), and is unused and unexpired."""
    found = get(tx, ceremony_id)
    if (
        found is None
        or found.kind != kind
        or found.used_at is not None
        or found.expires_at <= now
        or (session_id is not None and found.session_id != session_id)
        or (flow_id is not None and found.flow_id != flow_id)
    ):
        return None
    return found
