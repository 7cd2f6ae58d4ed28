"""The Fido2 and SoftwareOath configurations of the authentication methods policy (`method_configuration`
rows), mapped to and from the domain values. A configuration never saved reads as its defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from passbridge.methods.policy_rules import (
    FIDO2,
    Fido2Policy,
    KeyRestrictions,
    MethodPolicy,
    SoftwareOathPolicy,
    default_policy,
)
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import PolicyState, Target
from passbridge.store.models import MethodConfigurationRow
from passbridge.store.tx import Tx

_COLUMNS = select(
    MethodConfigurationRow.state,
    MethodConfigurationRow.include_targets,
    MethodConfigurationRow.exclude_targets,
    MethodConfigurationRow.settings,
).where(MethodConfigurationRow.id == bindparam("config_id"))


def _targets(rows: list[dict[str, Any]]) -> tuple[Target, ...]:
    return tuple(
        Target(str(r["targetType"]), str(r["id"]), bool(r.get("isRegistrationRequired", False))) for r in rows
    )


def _rows(targets: tuple[Target, ...]) -> list[dict[str, object]]:
    return [
        {"targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required}
        for t in targets
    ]


def _policy(config_id: str, state: str, include: Any, exclude: Any, settings: dict[str, Any]) -> MethodPolicy:
    common = {
        "state": PolicyState(state),
        "include_targets": _targets(include),
        "exclude_targets": _targets(exclude),
    }
    if config_id != FIDO2:
        return SoftwareOathPolicy(**common)  # type: ignore[arg-type]
    restrictions = settings.get("keyRestrictions", {})
    return Fido2Policy(
        **common,  # type: ignore[arg-type]
        is_self_service_registration_allowed=bool(settings.get("isSelfServiceRegistrationAllowed", True)),
        is_attestation_enforced=bool(settings.get("isAttestationEnforced", False)),
        key_restrictions=KeyRestrictions(
            bool(restrictions.get("isEnforced", False)),
            str(restrictions.get("enforcementType", "block")),
            tuple(str(g) for g in restrictions.get("aaGuids", ())),
        ),
    )


def _settings(policy: MethodPolicy) -> dict[str, Any]:
    if not isinstance(policy, Fido2Policy):
        return {}
    restrictions = policy.key_restrictions
    return {
        "isSelfServiceRegistrationAllowed": policy.is_self_service_registration_allowed,
        "isAttestationEnforced": policy.is_attestation_enforced,
        "keyRestrictions": {
            "isEnforced": restrictions.is_enforced,
            "enforcementType": restrictions.enforcement_type,
            "aaGuids": list(restrictions.aa_guids),
        },
    }


def load(tx: Tx, config_id: str) -> MethodPolicy:
    """The configuration as stored, or its defaults. Reads through a Session see its flushed changes."""
    row = tx.connection().execute(_COLUMNS, {"config_id": config_id}).first()
    if row is None:
        return default_policy(config_id)
    return _policy(config_id, row.state, row.include_targets, row.exclude_targets, row.settings or {})


def lock(tx: Tx, config_id: str) -> MethodPolicy:
    """The configuration, its row locked until commit so read-validate-write cannot interleave with
    another writer (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE)."""
    row = tx.session.get(MethodConfigurationRow, config_id, with_for_update=True)
    if row is None:
        return default_policy(config_id)
    return _policy(config_id, row.state, row.include_targets, row.exclude_targets, row.settings or {})


def save(tx: Tx, config_id: str, policy: MethodPolicy, *, now: datetime) -> None:
    """Store the configuration and move the policy-wide version and time."""
    row = tx.session.get(MethodConfigurationRow, config_id)
    if row is None:
        row = MethodConfigurationRow(id=config_id)
        tx.session.add(row)
    row.state = policy.state.value
    row.include_targets = _rows(policy.include_targets)
    row.exclude_targets = _rows(policy.exclude_targets)
    row.settings = _settings(policy)
    row.last_modified = now
    policy_store.bump_version(tx, now)
    tx.session.flush()
