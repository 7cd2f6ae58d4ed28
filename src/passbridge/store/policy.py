"""The authentication methods policy: the TAP configuration row, mapped to and from the domain value,
and the policy-wide version and change time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passbridge.domain.policy import PolicyState, TapPolicy, Target
from passbridge.store.models import Group, MethodsPolicyRow, TapPolicyRow, User

TAP_POLICY_ID = "TemporaryAccessPass"
METHODS_POLICY_ID = "authenticationMethodsPolicy"


@dataclass(frozen=True)
class PolicyStamp:
    """The policy-wide version (moves on every change) and when it last changed."""

    version: int
    last_modified: datetime | None


def _targets(rows: list[dict[str, object]]) -> tuple[Target, ...]:
    return tuple(
        Target(str(r["targetType"]), str(r["id"]), bool(r.get("isRegistrationRequired", False))) for r in rows
    )


def _rows(targets: tuple[Target, ...]) -> list[dict[str, object]]:
    return [
        {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
        for t in targets
    ]


# Every method read loads the policy: a Core select of its columns skips the ORM's per-query work.
_TAP_POLICY = select(
    TapPolicyRow.state,
    TapPolicyRow.default_lifetime,
    TapPolicyRow.default_length,
    TapPolicyRow.minimum_lifetime,
    TapPolicyRow.maximum_lifetime,
    TapPolicyRow.is_usable_once,
    TapPolicyRow.include_targets,
    TapPolicyRow.exclude_targets,
    TapPolicyRow.last_modified,
).where(TapPolicyRow.id == TAP_POLICY_ID)


def _tracked(session: Session) -> bool:
    """Whether this session holds the policy row, maybe changed and not flushed: then only the ORM
    sees what the unit of work has done so far."""
    key = session.identity_key(TapPolicyRow, TAP_POLICY_ID)
    return key in session.identity_map or any(isinstance(o, TapPolicyRow) for o in session.new)


def load(session: Session, *, for_update: bool = False) -> tuple[TapPolicy, datetime | None]:
    """The TAP policy. `for_update` locks the row so read-validate-write cannot interleave with
    another writer (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE)."""
    row: Any
    if for_update or _tracked(session):
        row = session.get(TapPolicyRow, TAP_POLICY_ID, with_for_update=for_update or None)
    else:
        row = session.connection().execute(_TAP_POLICY).first()
    if row is None:
        return TapPolicy(), None
    policy = TapPolicy(
        state=PolicyState(row.state),
        default_lifetime=row.default_lifetime,
        default_length=row.default_length,
        minimum_lifetime=row.minimum_lifetime,
        maximum_lifetime=row.maximum_lifetime,
        is_usable_once=row.is_usable_once,
        include_targets=_targets(row.include_targets),
        exclude_targets=_targets(row.exclude_targets),
    )
    return policy, row.last_modified


def save(session: Session, policy: TapPolicy, *, now: datetime) -> None:
    row = session.get(TapPolicyRow, TAP_POLICY_ID)
    if row is None:
        row = TapPolicyRow(id=TAP_POLICY_ID)
        session.add(row)
    row.state = policy.state.value
    row.default_lifetime = policy.default_lifetime
    row.default_length = policy.default_length
    row.minimum_lifetime = policy.minimum_lifetime
    row.maximum_lifetime = policy.maximum_lifetime
    row.is_usable_once = policy.is_usable_once
    row.include_targets = _rows(policy.include_targets)
    row.exclude_targets = _rows(policy.exclude_targets)
    row.last_modified = now
    _bump(session, now)


def _bump(session: Session, now: datetime) -> None:
    stamp = session.get(MethodsPolicyRow, METHODS_POLICY_ID, with_for_update=True)
    if stamp is None:
        session.add(MethodsPolicyRow(id=METHODS_POLICY_ID, version=1, last_modified=now))
        return
    stamp.version += 1
    stamp.last_modified = now


def stamp(session: Session) -> PolicyStamp:
    row = session.get(MethodsPolicyRow, METHODS_POLICY_ID)
    if row is None:
        return PolicyStamp(0, None)
    return PolicyStamp(row.version, row.last_modified)


def existing_group_ids(session: Session, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(Group.id).where(Group.id.in_(wanted))))


def existing_user_ids(session: Session, ids: Iterable[str]) -> set[str]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set(session.scalars(select(User.id).where(User.id.in_(wanted))))
