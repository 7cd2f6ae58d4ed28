"""The outbox's SQL, and nothing else's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update

from passbridge.mail.rules import State
from passbridge.store.models import OutboxMessage
from passbridge.store.tx import Tx

T = OutboxMessage
DUE_STATES = (State.PENDING.value, State.SENDING.value)


@dataclass(frozen=True)
class Claimed:
    """A message this sender holds until `lease_until`; `attempt` (the row's attempts after the claim)
    is the claim's version: only the holder of that attempt may say how it went."""

    id: str
    attempt: int
    kind: str
    to_address: str
    subject: str
    text_sealed: str | None
    html_sealed: str | None
    created_at: datetime


@dataclass(frozen=True)
class Listed:
    """A message as the portal and the CLI list it: never its bodies."""

    id: str
    kind: str
    to_address: str
    subject: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    has_body: bool


def add(tx: Tx, row: OutboxMessage) -> None:
    tx.insert(row)


def _due(now: datetime) -> ColumnElement[bool]:
    # Pending and due, or claimed by a sender whose lease ran out (it crashed): one range of the index.
    return and_(T.state.in_(DUE_STATES), T.next_attempt_at <= now)


def claim_one(tx: Tx, *, now: datetime, lease_until: datetime) -> Claimed | None:
    """Claim the message due longest, if any. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent
    senders each take a different row; on SQLite the write transaction holds the lock, and the UPDATE's
    own condition decides in any case (a row another sender claimed is no longer due)."""
    pick = select(T.id).where(_due(now)).order_by(T.next_attempt_at).limit(1)
    if tx.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    message_id = tx.scalar(pick)
    if message_id is None:
        return None
    claimed = tx.execute(
        update(T)
        .where(T.id == message_id, _due(now))
        .values(state=State.SENDING.value, attempts=T.attempts + 1, next_attempt_at=lease_until)
        .returning(
            T.id,
            T.attempts.label("attempt"),
            T.kind,
            T.to_address,
            T.subject,
            T.text_sealed,
            T.html_sealed,
            T.created_at,
        )
    ).first()
    return None if claimed is None else Claimed(**claimed._mapping)


def _held(message_id: str, attempt: int) -> ColumnElement[bool]:
    return and_(T.id == message_id, T.state == State.SENDING.value, T.attempts == attempt)


def mark_sent(tx: Tx, message_id: str, attempt: int, *, now: datetime) -> bool:
    """Sent: the bodies go (they may hold a pass). False when the claim was no longer ours."""
    done = tx.execute(
        update(T)
        .where(_held(message_id, attempt))
        .values(state=State.SENT.value, sent_at=now, last_error=None, text_sealed=None, html_sealed=None)
    )
    return done.rowcount == 1


def mark_failed_attempt(
    tx: Tx, message_id: str, attempt: int, *, state: State, next_attempt_at: datetime, error: str
) -> bool:
    done = tx.execute(
        update(T)
        .where(_held(message_id, attempt))
        .values(state=state.value, next_attempt_at=next_attempt_at, last_error=error)
    )
    return done.rowcount == 1


def give_up_older_than(tx: Tx, cutoff: datetime, *, now: datetime, error: str) -> int:
    """Messages created before `cutoff` and not delivered are given up without another attempt, and
    the bodies of every failed one that old are dropped (a failed one keeps its sealed bodies until
    then, so an administrator can retry it)."""
    stale = and_(T.created_at < cutoff, T.state.in_(DUE_STATES), T.next_attempt_at <= now)
    given_up = tx.execute(
        update(T).where(stale).values(state=State.FAILED.value, last_error=error, next_attempt_at=now)
    ).rowcount
    tx.execute(
        update(T)
        .where(T.state == State.FAILED.value, T.created_at < cutoff, T.text_sealed.is_not(None))
        .values(text_sealed=None, html_sealed=None)
    )
    return int(given_up)


def retry(tx: Tx, message_id: str, *, now: datetime) -> str | None:
    """A failed message back to pending, due now. None when done; else why not."""
    row = tx.execute(select(T.state, T.text_sealed).where(T.id == message_id)).first()
    if row is None:
        return "missing"
    if row.state != State.FAILED.value:
        return "not-failed"
    if row.text_sealed is None:
        return "no-body"
    tx.execute(
        update(T)
        .where(T.id == message_id, T.state == State.FAILED.value)
        .values(state=State.PENDING.value, next_attempt_at=now)
    )
    return None


def listing(
    tx: Tx, *, state: State | None, limit: int, before: tuple[datetime, str] | None = None
) -> list[Listed]:
    """Newest first, `limit` at most, after the page that ended at `before` (keyset)."""
    query = select(
        T.id,
        T.kind,
        T.to_address,
        T.subject,
        T.state,
        T.attempts,
        T.created_at,
        T.next_attempt_at,
        T.last_error,
        T.sent_at,
        T.text_sealed.is_not(None).label("has_body"),
    )
    if state is not None:
        query = query.where(T.state == state.value)
    if before is not None:
        at, message_id = before
        query = query.where((T.created_at < at) | and_(T.created_at == at, T.id < message_id))
    query = query.order_by(T.created_at.desc(), T.id.desc()).limit(limit)
    return [Listed(**row._mapping) for row in tx.execute(query)]
