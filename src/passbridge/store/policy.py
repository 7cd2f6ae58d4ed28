"""The Temporary Access Pass policy row, mapped to and from the domain value."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from passbridge.domain.policy import PolicyState, TapPolicy, Target
from passbridge.store.models import TapPolicyRow

TAP_POLICY_ID = "TemporaryAccessPass"


def _targets(rows: list[dict[str, object]]) -> tuple[Target, ...]:
    return tuple(
        Target(str(r["targetType"]), str(r["id"]), bool(r.get("isRegistrationRequired", False))) for r in rows
    )


def _rows(targets: tuple[Target, ...]) -> list[dict[str, object]]:
    return [
        {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
        for t in targets
    ]


def load(session: Session) -> tuple[TapPolicy, datetime | None]:
    row = session.get(TapPolicyRow, TAP_POLICY_ID)
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
