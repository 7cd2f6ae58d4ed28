"""Sign-in flows, browser sessions, failed-attempt counters and the pass's use at sign-in.

Every statement here is built once, on the tables, and runs on the unit's connection: a sign-in
runs about a dozen of them around one Argon2 verify, and through the ORM's execution path each cost
several times the statement itself (bench/README.md, pass sign-ins). Flows are read through the ORM
only where a step changes several of their fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from passbridge.store.db import insert_row
from passbridge.store.models import (
    SignInFailure,
    SignInFlow,
    TemporaryAccessPass,
    User,
    UserSession,
)

_FLOWS: Table = SignInFlow.__table__  # type: ignore[assignment]
_SESSIONS: Table = UserSession.__table__  # type: ignore[assignment]
_FAILURES: Table = SignInFailure.__table__  # type: ignore[assignment]
_PASSES: Table = TemporaryAccessPass.__table__  # type: ignore[assignment]


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


# --- flows -----------------------------------------------------------------------------------------


def add_flow(session: Session, row: SignInFlow) -> None:
    insert_row(session, row)


def flow(session: Session, flow_id: str) -> SignInFlow | None:
    return session.get(SignInFlow, flow_id)


_FINISH_FLOW = (
    update(_FLOWS)
    .where(_FLOWS.c.id == bindparam("flow_id"), _FLOWS.c.state == bindparam("from_state"))
    .values(state="done")
)


def finish_flow(session: Session, flow_id: str, from_state: str) -> bool:
    """Move the flow to done only if it is still in `from_state`: of two requests racing to finish
    one flow, exactly one sees True (a conditional UPDATE, atomic on both databases)."""
    result = session.connection().execute(_FINISH_FLOW, {"flow_id": flow_id, "from_state": from_state})
    return _rowcount(result) == 1


def purge_flows(session: Session, before: datetime) -> int:
    return _rowcount(session.connection().execute(delete(_FLOWS).where(_FLOWS.c.expires_at < before)))


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
    _PASSES.c.id,
    _PASSES.c.start_at,
    _PASSES.c.lifetime_minutes,
    _PASSES.c.is_usable_once,
    _PASSES.c.used_at,
    _PASSES.c.secret_hash,
).where(_PASSES.c.user_id == bindparam("user_id"))


def pass_for_sign_in(session: Session, user_id: str) -> PassForSignIn | None:
    row = session.connection().execute(_PASS_OF_USER, {"user_id": user_id}).first()
    return None if row is None else PassForSignIn(*row)


_USE_PASS = (
    update(_PASSES)
    .where(
        _PASSES.c.id == bindparam("pass_id"),
        _PASSES.c.secret_hash == bindparam("verified_hash"),
        or_(_PASSES.c.is_usable_once.is_(False), _PASSES.c.used_at.is_(None)),
    )
    .values(
        used_at=func.coalesce(_PASSES.c.used_at, bindparam("used_now")), last_used_at=bindparam("used_now")
    )
)


def use_pass(session: Session, pass_id: str, secret_hash: str, now: datetime) -> bool:
    """Record a use of the pass the caller verified. One conditional UPDATE: a one-time pass is
    marked used only while still unused, so of any number of racing sign-ins, across processes and
    nodes, exactly one sees True. The hash condition refuses a pass replaced since it was verified."""
    params = {"pass_id": pass_id, "verified_hash": secret_hash, "used_now": now}
    return _rowcount(session.connection().execute(_USE_PASS, params)) == 1


# --- sessions --------------------------------------------------------------------------------------


def add_session(session: Session, row: UserSession) -> None:
    insert_row(session, row)


_SESSION_BY_HASH = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def session_by_hash(session: Session, token_hash: str) -> tuple[UserSession, User] | None:
    row = session.execute(_SESSION_BY_HASH, {"token_hash": token_hash}).first()
    return None if row is None else (row[0], row[1])


_END_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.ended_at.is_(None))
    .values(ended_at=bindparam("ended_now"))
)


def end_session(session: Session, session_id: str, now: datetime) -> None:
    session.connection().execute(_END_SESSION, {"session_id": session_id, "ended_now": now})


def end_sessions_of_user(session: Session, user_id: str, now: datetime) -> int:
    result = session.connection().execute(
        update(_SESSIONS)
        .where(_SESSIONS.c.user_id == user_id, _SESSIONS.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return _rowcount(result)


# --- failed attempts ---------------------------------------------------------------------------------

_FAILURES_OF = select(_FAILURES.c.at, _FAILURES.c.user_id, _FAILURES.c.ip_address).where(
    or_(_FAILURES.c.user_id == bindparam("user_id"), _FAILURES.c.ip_address == bindparam("ip")),
    _FAILURES.c.at > bindparam("since"),
)


def failures_since(
    session: Session, *, user_id: str | None, ip_address: str | None, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """Times of recent failures for the user and for the source address, in one query (a NULL
    parameter matches nothing, so an unknown user or address simply counts nothing)."""
    if user_id is None and ip_address is None:
        return [], []
    rows = (
        session.connection()
        .execute(_FAILURES_OF, {"user_id": user_id, "ip": ip_address, "since": since})
        .all()
    )
    by_user = [r.at for r in rows if user_id is not None and r.user_id == user_id]
    by_ip = [r.at for r in rows if ip_address is not None and r.ip_address == ip_address]
    return by_user, by_ip


def add_failure(session: Session, row: SignInFailure) -> None:
    insert_row(session, row)


_DETACH_FAILURES = (
    update(_FAILURES).where(_FAILURES.c.user_id == bindparam("detached_user")).values(user_id=None)
)


def clear_user_failures(session: Session, user_id: str) -> None:
    """Reset the user's count after a success; the rows stay counted against their source address."""
    session.connection().execute(_DETACH_FAILURES, {"detached_user": user_id})


def purge_failures(session: Session, before: datetime) -> None:
    session.connection().execute(delete(_FAILURES).where(_FAILURES.c.at < before))
