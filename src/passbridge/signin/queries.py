"""The sign-in feature's SQL: flows, browser sessions, the pass's use at sign-in, throttle counters.

Every statement here is built once, on the tables, and runs as Core on the Tx: a sign-in is three
requests around one Argon2 verify, and the goal is that everything but the verify costs a small
fraction of it (bench/README.md, pass sign-ins). The ORM's unit of work (identity map, flush, object
construction) cost more than these statements' own work, so nothing on the sign-in path uses it: rows
are inserted from plain values and read back as plain rows, and the selects run on the driver's cursor
(fastpath/prepared.py). Writes run in a write transaction (BEGIN IMMEDIATE on SQLite); reads that need
no snapshot in an autocommit one (store/db.py `Database.transaction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import Table, bindparam, delete, func, insert, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from passbridge.fastpath.prepared import PreparedSelect
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.signin.rules import Counter
from passbridge.store.models import (
    Application,
    SignInFlow,
    SignInThrottle,
    TapPolicyRow,
    TemporaryAccessPass,
    Tenant,
    User,
    UserSession,
)
from passbridge.store.tx import Tx

_FLOWS: Table = SignInFlow.__table__  # type: ignore[assignment]
_SESSIONS: Table = UserSession.__table__  # type: ignore[assignment]
_PASSES: Table = TemporaryAccessPass.__table__  # type: ignore[assignment]
_USERS: Table = User.__table__  # type: ignore[assignment]
_APPS: Table = Application.__table__  # type: ignore[assignment]
_TENANT: Table = Tenant.__table__  # type: ignore[assignment]


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


# --- flows -----------------------------------------------------------------------------------------

_FLOW_COLUMNS = (
    _FLOWS.c.id,
    _FLOWS.c.state,
    _FLOWS.c.csrf_token,
    _FLOWS.c.user_id,
    _FLOWS.c.username,
    _FLOWS.c.return_to,
    _FLOWS.c.auth_request,
    _FLOWS.c.client_id,
    _FLOWS.c.force_login,
    _FLOWS.c.expires_at,
)


class FlowRow(NamedTuple):
    """A flow's columns as sign-in reads them (all but methods_satisfied and created_at)."""

    id: str
    state: str
    csrf_token: str
    user_id: str | None
    username: str | None
    return_to: str | None
    auth_request: dict[str, Any] | None
    client_id: str | None
    force_login: bool
    expires_at: datetime


_ADD_FLOW = insert(_FLOWS)
_FLOW = PreparedSelect(select(*_FLOW_COLUMNS).where(_FLOWS.c.id == bindparam("flow_id")), FlowRow)


def add_flow(
    tx: Tx,
    *,
    flow_id: str,
    csrf_token: str,
    return_to: str | None,
    auth_request: dict[str, Any] | None,
    client_id: str | None,
    force_login: bool,
    created_at: datetime,
    expires_at: datetime,
    if_absent: bool = False,
) -> None:
    """Insert a new flow, waiting for a username (`if_absent`: unless one with this id exists, as
    when two first posts of one page race to create it)."""
    values: dict[str, Any] = {
        "id": flow_id,
        "state": "identify",
        "csrf_token": csrf_token,
        "user_id": None,
        "username": None,
        "methods_satisfied": [],
        "return_to": return_to,
        "auth_request": auth_request,
        "client_id": client_id,
        "force_login": force_login,
        "created_at": created_at,
        "expires_at": expires_at,
    }
    if if_absent:
        dialect = postgresql if tx.dialect == "postgresql" else sqlite
        tx.execute(dialect.insert(_FLOWS).values(values).on_conflict_do_nothing(index_elements=["id"]))
    else:
        tx.execute(_ADD_FLOW, values)


def flow(tx: Tx, flow_id: str) -> FlowRow | None:
    return _FLOW.first(tx, flow_id=flow_id)


_IDENTIFY = (
    update(_FLOWS)
    .where(
        _FLOWS.c.id == bindparam("flow_id"),
        _FLOWS.c.state != "done",
        _FLOWS.c.expires_at > bindparam("now"),
    )
    .values(
        username=bindparam("typed_name"),
        # Looked up in the same statement: the name is kept as typed, the user by the casefolded key.
        user_id=select(_USERS.c.id).where(_USERS.c.upn_key == bindparam("upn_key")).scalar_subquery(),
        state="prove",
    )
)


def identify(tx: Tx, flow_id: str, username: str, upn_key: str, now: datetime) -> bool:
    """Record the username and the user it names (NULL for none) and move the flow on to prove; False
    when the flow was finished or expired meanwhile."""
    params = {"flow_id": flow_id, "typed_name": username, "upn_key": upn_key, "now": now}
    return _rowcount(tx.execute(_IDENTIFY, params)) == 1


_FINISH_FLOW = (
    update(_FLOWS)
    .where(_FLOWS.c.id == bindparam("flow_id"), _FLOWS.c.state == bindparam("from_state"))
    .values(state="done")
)


def finish_flow(tx: Tx, flow_id: str, from_state: str) -> bool:
    """Move the flow to done only if it is still in `from_state`: of two requests racing to finish
    one flow, exactly one sees True (a conditional UPDATE, atomic on both databases)."""
    result = tx.execute(_FINISH_FLOW, {"flow_id": flow_id, "from_state": from_state})
    return _rowcount(result) == 1


def purge_flows(tx: Tx, before: datetime) -> int:
    return _rowcount(tx.execute(delete(_FLOWS).where(_FLOWS.c.expires_at < before)))


class _TenantName(NamedTuple):
    display_name: str


_TENANT_NAME = PreparedSelect(select(_TENANT.c.display_name).limit(1), _TenantName)


def tenant_name(tx: Tx) -> str | None:
    """The organisation's name, which every sign-in page shows."""
    row = _TENANT_NAME.first(tx)
    return None if row is None else row.display_name


# --- what a proof reads before the hash ----------------------------------------------------------------


# One select for the flow, the user it names, their pass and the application the flow signs in to:
# each outer-joined, so a flow without a user (an unknown name) still comes back.
class ProofRow(NamedTuple):
    """A flow (FlowRow's columns, in order) with what a proof reads next to it; the user's, pass's and
    application's columns are None when the join found none."""

    id: str
    state: str
    csrf_token: str
    user_id: str | None
    username: str | None
    return_to: str | None
    auth_request: dict[str, Any] | None
    client_id: str | None
    force_login: bool
    expires_at: datetime
    found_user_id: str | None
    user_principal_name: str | None
    display_name: str | None
    account_enabled: bool | None
    pass_id: str | None
    secret_hash: str | None
    app_display_name: str | None

    def flow(self) -> FlowRow:
        return FlowRow._make(self[: len(FlowRow._fields)])


_FOR_PROOF = PreparedSelect(
    select(
        *_FLOW_COLUMNS,
        _USERS.c.id.label("found_user_id"),
        _USERS.c.user_principal_name,
        _USERS.c.display_name,
        _USERS.c.account_enabled,
        _PASSES.c.id.label("pass_id"),
        _PASSES.c.secret_hash,
        _APPS.c.display_name.label("app_display_name"),
    )
    .select_from(
        _FLOWS.outerjoin(_USERS, _USERS.c.id == _FLOWS.c.user_id)
        .outerjoin(_PASSES, _PASSES.c.user_id == _USERS.c.id)
        .outerjoin(_APPS, _APPS.c.app_id == _FLOWS.c.client_id)
    )
    .where(_FLOWS.c.id == bindparam("flow_id")),
    ProofRow,
)


def flow_for_proof(tx: Tx, flow_id: str) -> ProofRow | None:
    return _FOR_PROOF.first(tx, flow_id=flow_id)


# --- the pass, as sign-in sees it --------------------------------------------------------------------


@dataclass(frozen=True)
class PassForSignIn:
    id: str
    start_at: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used_at: datetime | None
    secret_hash: str
    purpose: str
    attempts: int


_PASS_COLUMNS = (
    _PASSES.c.id,
    _PASSES.c.start_at,
    _PASSES.c.lifetime_minutes,
    _PASSES.c.is_usable_once,
    _PASSES.c.used_at,
    _PASSES.c.secret_hash,
    _PASSES.c.purpose,
    _PASSES.c.attempts,
)


# The policy table holds one row per method kind; the join names the TAP's row alone, so this yields
# the user's pass with the policy columns (NULL when the policy was never saved: its defaults).
class _PassAndPolicy(NamedTuple):
    id: str
    start_at: datetime
    lifetime_minutes: int
    is_usable_once: bool
    used_at: datetime | None
    secret_hash: str
    purpose: str
    attempts: int
    policy_state: str | None
    policy_default_lifetime: int | None
    policy_default_length: int | None
    policy_minimum_lifetime: int | None
    policy_maximum_lifetime: int | None
    policy_is_usable_once: bool | None
    policy_include_targets: list[dict[str, object]] | None
    policy_exclude_targets: list[dict[str, object]] | None
    policy_last_modified: datetime | None
    policy_include_symbols: bool | None
    policy_require_reason: bool | None
    policy_enforced_purpose: str | None
    policy_revoke_multi_use_after_passkey: bool | None


_PASS_AND_POLICY = PreparedSelect(
    select(*_PASS_COLUMNS, *policy_store.POLICY_COLUMNS)
    .select_from(_PASSES.outerjoin(TapPolicyRow, TapPolicyRow.id == policy_store.TAP_POLICY_ID))
    .where(_PASSES.c.user_id == bindparam("user_id")),
    _PassAndPolicy,
)


def pass_and_policy(tx: Tx, user_id: str) -> tuple[PassForSignIn, TapPolicy] | None:
    """The user's pass and the TAP policy as they stand now."""
    row = _PASS_AND_POLICY.first(tx, user_id=user_id)
    if row is None:
        return None
    tap = PassForSignIn(
        row.id,
        row.start_at,
        row.lifetime_minutes,
        row.is_usable_once,
        row.used_at,
        row.secret_hash,
        row.purpose,
        row.attempts,
    )
    return tap, policy_store.policy_of(row)


_FIRST_USE = (
    update(_PASSES)
    .where(
        _PASSES.c.id == bindparam("pass_id"),
        _PASSES.c.secret_hash == bindparam("verified_hash"),
        _PASSES.c.used_at.is_(None),
    )
    .values(used_at=bindparam("used_now"), last_used_at=bindparam("used_now"))
)
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


def use_pass(tx: Tx, pass_id: str, secret_hash: str, now: datetime) -> Literal["first", "again"] | None:
    """Record a use of the pass the caller verified: "first" for its first use (its holder is told),
    "again" for a later use of a reusable pass, None when refused. Conditional UPDATEs: the first use
    only while the pass is unused, so of any number of racing sign-ins, across processes and nodes,
    exactly one is the first (and, for a one-time pass, the only one). The hash condition refuses a pass
    replaced since it was verified."""
    params = {"pass_id": pass_id, "verified_hash": secret_hash, "used_now": now}
    if _rowcount(tx.execute(_FIRST_USE, params)) == 1:
        return "first"
    return "again" if _rowcount(tx.execute(_USE_PASS, params)) == 1 else None


# --- sessions --------------------------------------------------------------------------------------

_ADD_SESSION = insert(_SESSIONS)


class NewSession(Protocol):
    """What a new session row holds beside its token hash (sessions.py's SessionView)."""

    @property
    def id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def auth_time(self) -> datetime: ...
    @property
    def amr(self) -> tuple[str, ...]: ...
    @property
    def acr(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def register_by(self) -> datetime | None: ...
    @property
    def pass_id(self) -> str | None: ...
    @property
    def pass_purpose(self) -> str | None: ...


def add_session(tx: Tx, view: NewSession, token_hash: str, ip_address: str | None, now: datetime) -> None:
    values = {
        "id": view.id,
        "token_hash": token_hash,
        "user_id": view.user_id,
        "created_at": now,
        "auth_time": view.auth_time,
        "amr": list(view.amr),
        "acr": view.acr,
        "expires_at": view.expires_at,
        "register_by": view.register_by,
        "pass_id": view.pass_id,
        "pass_purpose": view.pass_purpose,
        "ip_address": ip_address,
        "ended_at": None,
    }
    tx.execute(_ADD_SESSION, values)


_SESSION_BY_HASH = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def session_by_hash(tx: Tx, token_hash: str) -> tuple[UserSession, User] | None:
    row = tx.session.execute(_SESSION_BY_HASH, {"token_hash": token_hash}).first()
    return None if row is None else (row[0], row[1])


_END_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.ended_at.is_(None))
    .values(ended_at=bindparam("ended_now"))
)
_END_SESSION_BY_HASH = (
    update(_SESSIONS)
    .where(_SESSIONS.c.token_hash == bindparam("ended_hash"), _SESSIONS.c.ended_at.is_(None))
    .values(ended_at=bindparam("ended_now"))
)


def end_session(tx: Tx, session_id: str, now: datetime) -> None:
    tx.connection().execute(_END_SESSION, {"session_id": session_id, "ended_now": now})


def end_session_by_hash(tx: Tx, token_hash: str, now: datetime) -> None:
    """End the session whose cookie hashes to `token_hash`, if there is one still open."""
    tx.execute(_END_SESSION_BY_HASH, {"ended_hash": token_hash, "ended_now": now})


def end_sessions_of_user(tx: Tx, user_id: str, now: datetime) -> int:
    result = tx.connection().execute(
        update(_SESSIONS)
        .where(_SESSIONS.c.user_id == user_id, _SESSIONS.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return _rowcount(result)


# --- throttle counters (signin/throttle.py) -------------------------------------------------------
#
# One row per key (models.SignInThrottle), written only by compare-and-set: a reservation reads the
# counters, computes the next state (rules.py `reserve`), and writes each row with one conditional
# UPDATE on the version it read. On PostgreSQL a concurrent writer's UPDATE waits for ours and then
# finds the version moved, so it matches no row and its caller reads again; on SQLite the transaction
# holds the database's write lock (BEGIN IMMEDIATE) throughout. Either way two processes can never
# both spend the same attempt.

_THROTTLE: Table = SignInThrottle.__table__  # type: ignore[assignment]
_C = _THROTTLE.c

# Keys for the account's consecutive failures (domain CEILING_RULE): kept until a success, never purged.
CEILING_PREFIX = "account:"


def ensure_counters(tx: Tx, keys: Sequence[str]) -> None:
    """Create a zeroed counter for each key that has none (one statement; existing rows untouched)."""
    rows = [
        {"key": key, "attempts": 0, "lockouts": 0, "locked_until": None, "last_at": None, "version": 0}
        for key in keys
    ]
    dialect = postgresql if tx.dialect == "postgresql" else sqlite
    tx.execute(dialect.insert(_THROTTLE).values(rows).on_conflict_do_nothing(index_elements=["key"]))


_READ = select(_C.key, _C.attempts, _C.lockouts, _C.locked_until, _C.last_at, _C.version).where(
    _C.key.in_(bindparam("keys", expanding=True))
)


def counters(tx: Tx, keys: Sequence[str]) -> dict[str, Counter]:
    found = {
        row.key: Counter(row.attempts, row.lockouts, row.locked_until, row.last_at, row.version)
        for row in tx.execute(_READ, {"keys": list(keys)})
    }
    return {key: found.get(key, Counter()) for key in keys}


_WRITE = (
    update(_THROTTLE)
    .where(_C.key == bindparam("k"), _C.version == bindparam("read_version"))
    .values(
        attempts=bindparam("new_attempts"),
        lockouts=bindparam("new_lockouts"),
        locked_until=bindparam("new_locked_until"),
        last_at=bindparam("new_last_at"),
        version=bindparam("new_version"),
    )
)


def write_counter(tx: Tx, key: str, read_version: int, counter: Counter) -> bool:
    """Write `counter` over the row only if it still has `read_version`; False when another request
    wrote it first (the caller reads again)."""
    result = tx.execute(
        _WRITE,
        {
            "k": key,
            "read_version": read_version,
            "new_attempts": counter.attempts,
            "new_lockouts": counter.lockouts,
            "new_locked_until": counter.locked_until,
            "new_last_at": counter.last_at,
            "new_version": counter.version,
        },
    )
    return int(result.rowcount) == 1


def clear_counters(tx: Tx, keys: Sequence[str]) -> None:
    """A success: these counters start afresh."""
    if keys:
        tx.execute(delete(_THROTTLE).where(_C.key.in_(list(keys))))


def clear_ceiling(tx: Tx, username_key: str) -> None:
    """An administrator issued a new pass: the account's consecutive count starts afresh."""
    tx.execute(delete(_THROTTLE).where(_C.key == CEILING_PREFIX + username_key))


def purge_counters(tx: Tx, before: datetime) -> None:
    """Counters quiet since `before` and not locked past it (never the ceiling's: only a success ends
    those)."""
    tx.execute(
        delete(_THROTTLE).where(
            _C.last_at < before,
            or_(_C.locked_until.is_(None), _C.locked_until < before),
            not_(_C.key.startswith(CEILING_PREFIX)),
        )
    )
