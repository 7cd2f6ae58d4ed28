"""Sign-in flows, browser sessions, failed-attempt counters and the pass's use at sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from passbridge.store.models import (
    SignInFailure,
    SignInFlow,
    TemporaryAccessPass,
    User,
    UserSession,
)

# --- flows -----------------------------------------------------------------------------------------


def add_flow(session: Session, row: SignInFlow) -> None:
    session.add(row)
    session.flush()


def flow(session: Session, flow_id: str) -> SignInFlow | None:
    return session.get(SignInFlow, flow_id)


def finish_flow(session: Session, flow_id: str, from_state: str) -> bool:
    """Move the flow to done only if it is still in `from_state`: of two requests racing to finish
    one flow, exactly one sees True (a conditional UPDATE, atomic on both databases)."""
    result = session.execute(
        update(SignInFlow)
        .where(SignInFlow.id == flow_id, SignInFlow.state == from_state)
        .values(state="done")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def purge_flows(session: Session, before: datetime) -> int:
    result = session.execute(delete(SignInFlow).where(SignInFlow.expires_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the pass, as sign-in sees it --------------------------------------------------------------------


@dataclass(frozen=True)
class PassForSignIn:
    id: str
    start_at: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used_at: datetime | None
    secret_hash: str


_PASS_OF_USER = select(
    TemporaryAccessPass.id,
    TemporaryAccessPass.start_at,
    TemporaryAccessPass.lifetime_minutes,
    TemporaryAccessPass.is_usable_once,
    TemporaryAccessPass.used_at,
    TemporaryAccessPass.secret_hash,
).where(TemporaryAccessPass.user_id == bindparam("user_id"))


def pass_for_sign_in(session: Session, user_id: str) -> PassForSignIn | None:
    row = session.execute(_PASS_OF_USER, {"user_id": user_id}).first()
    return None if row is None else PassForSignIn(*row)


def use_pass(session: Session, pass_id: str, secret_hash: str, now: datetime) -> bool:
    """Record a use of the pass the caller verified. One conditional UPDATE: a one-time pass is
    marked used only while still unused, so of any number of racing sign-ins, across processes and
    nodes, exactly one sees True. The hash condition refuses a pass replaced since it was verified."""
    result = session.execute(
        update(TemporaryAccessPass)
        .where(
            TemporaryAccessPass.id == pass_id,
            TemporaryAccessPass.secret_hash == secret_hash,
            or_(TemporaryAccessPass.is_usable_once.is_(False), TemporaryAccessPass.used_at.is_(None)),
        )
        .values(
            used_at=func.coalesce(TemporaryAccessPass.used_at, now),
            last_used_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


# --- sessions --------------------------------------------------------------------------------------


def add_session(session: Session, row: UserSession) -> None:
    session.add(row)
    session.flush()


_SESSION_BY_HASH = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def session_by_hash(session: Session, token_hash: str) -> tuple[UserSession, User] | None:
    row = session.execute(_SESSION_BY_HASH, {"token_hash": token_hash}).first()
    return None if row is None else (row[0], row[1])


def end_session(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )


def end_sessions_of_user(session: Session, user_id: str, now: datetime) -> int:
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- failed attempts ---------------------------------------------------------------------------------


def failures_since(
    session: Session, *, user_id: str | None, ip_address: str | None, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """Times of recent failures for the user and for the source address, in one query."""
    wanted = [
        c
        for c in (
            SignInFailure.user_id == user_id if user_id is not None else None,
            SignInFailure.ip_address == ip_address if ip_address is not None else None,
        )
        if c is not None
    ]
    if not wanted:
        return [], []
    rows = session.execute(
        select(SignInFailure.at, SignInFailure.user_id, SignInFailure.ip_address).where(
            or_(*wanted), SignInFailure.at > since
        )
    ).all()
    by_user = [r.at for r in rows if user_id is not None and r.user_id == user_id]
    by_ip = [r.at for r in rows if ip_address is not None and r.ip_address == ip_address]
    return by_user, by_ip


def add_failure(session: Session, row: SignInFailure) -> None:
    session.add(row)
    session.flush()


def clear_user_failures(session: Session, user_id: str) -> None:
    """Reset the user's count after a success; the rows stay counted against their source address."""
    session.execute(
        update(SignInFailure)
        .where(SignInFailure.user_id == user_id)
        .values(user_id=None)
        .execution_options(synchronize_session=False)
    )


def purge_failures(session: Session, before: datetime) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.at < before))
