"""Self-service recovery's SQL: requests, their single-use decision, and the rate-limit counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from passbridge.store.models import RecoveryLimit, RecoveryRequest, User
from passbridge.store.tx import Tx

_LIMITS: Table = RecoveryLimit.__table__  # type: ignore[assignment]
_L = _LIMITS.c


def take(tx: Tx, key: str, *, allowed: int, window: timedelta, now: datetime) -> bool:
    """Count one request against `key`: True when it is within `allowed` per `window`. One conditional
    UPDATE after an insert-if-missing, so concurrent requests on any number of processes never count past
    the limit (PostgreSQL's second UPDATE waits for the first and re-reads the row; SQLite serialises)."""
    dialect = postgresql if tx.dialect == "postgresql" else sqlite
    tx.execute(
        dialect.insert(_LIMITS)
        .values(key=key, window_start=now, count=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    stale = _L.window_start <= now - window
    done = tx.execute(
        update(_LIMITS)
        .where(_L.key == key, stale | (_L.count < allowed))
        .values(
            count=case((stale, 1), else_=_L.count + 1),
            window_start=case((stale, now), else_=_L.window_start),
        )
    )
    return int(done.rowcount) == 1


def purge_limits(tx: Tx, before: datetime) -> None:
    """Counters whose window began before `before`: they would start afresh anyway."""
    tx.execute(delete(_LIMITS).where(_L.window_start < before))


def add(tx: Tx, row: RecoveryRequest) -> None:
    tx.session.add(row)
    tx.session.flush()  # now: a second open request for the user fails here, on the unique index


def close_expired(tx: Tx, user_id: str, now: datetime) -> None:
    """The user's open request past its end is closed as expired, making room for a new one."""
    tx.execute(
        update(RecoveryRequest)
        .where(
            RecoveryRequest.user_id == user_id,
            RecoveryRequest.state == "open",
            RecoveryRequest.expires_at <= now,
        )
        .values(state="expired")
    )


def open_of(tx: Tx, user_id: str) -> RecoveryRequest | None:
    query = select(RecoveryRequest).where(RecoveryRequest.user_id == user_id, RecoveryRequest.state == "open")
    return tx.session.scalars(query).first()


def by_id(tx: Tx, request_id: str) -> RecoveryRequest | None:
    return tx.session.get(RecoveryRequest, request_id)


def by_link(tx: Tx, link_hash: str) -> RecoveryRequest | None:
    return tx.session.scalars(select(RecoveryRequest).where(RecoveryRequest.link_hash == link_hash)).first()


def decide(
    tx: Tx,
    request_id: str,
    *,
    state: str,
    now: datetime,
    by_id: str | None,
    by_name: str,
    via: str,
) -> bool:
    """Close an open, unexpired request: of any number of decisions at once, one sees True."""
    done = tx.execute(
        update(RecoveryRequest)
        .where(
            RecoveryRequest.id == request_id,
            RecoveryRequest.state == "open",
            RecoveryRequest.expires_at > now,
        )
        .values(state=state, decided_at=now, decided_by_id=by_id, decided_by_name=by_name, decided_via=via)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount) == 1


def set_pass(tx: Tx, request_id: str, pass_id: str) -> None:
    tx.execute(
        update(RecoveryRequest)
        .where(RecoveryRequest.id == request_id)
        .values(pass_id=pass_id)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Listed:
    request: RecoveryRequest
    user: User
    manager: User | None


def listing(tx: Tx, *, only_open: bool, now: datetime, limit: int) -> Sequence[Listed]:
    """Requests newest first: the open, unexpired ones, or (`only_open` False) every recent one."""
    manager = aliased(User)
    query = (
        select(RecoveryRequest, User, manager)
        .join(User, User.id == RecoveryRequest.user_id)
        .outerjoin(manager, manager.id == RecoveryRequest.manager_id)
        .order_by(RecoveryRequest.created_at.desc(), RecoveryRequest.id)
        .limit(limit)
    )
    if only_open:
        query = query.where(RecoveryRequest.state == "open", RecoveryRequest.expires_at > now)
    return [Listed(r, u, m) for r, u, m in tx.session.execute(query).all()]
