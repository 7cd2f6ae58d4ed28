"""The Fido2 and SoftwareOath configurations of the authentication methods policy (`method_configuration`
rows), mapped to and from the domain values. A configuration never saved reads as its defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    DEFAULT_PROFILE_NAME,
    Assignment,
    AttestationEnforcement,
    KeyRestrictions,
    PasskeyProfile,
    parse_passkey_types,
    passkey_types_text,
)
from passbridge.methods.policy_rules import (
    FIDO2,
    Fido2Policy,
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
    return Fido2Policy(
        **common,  # type: ignore[arg-type]
        is_self_service_registration_allowed=bool(settings.get("isSelfServiceRegistrationAllowed", True)),
        profiles=_profiles(settings),
        assignments=tuple(
            Assignment(str(target), tuple(str(p) for p in ids))
            for target, ids in settings.get("allowedPasskeyProfiles", {}).items()
        ),
        attestation_trust_roots=tuple(str(r) for r in settings.get("attestationTrustRoots", ())),
    )


def _restrictions(data: dict[str, Any]) -> KeyRestrictions:
    return KeyRestrictions(
        bool(data.get("isEnforced", False)),
        str(data.get("enforcementType", "block")),
        tuple(str(g) for g in data.get("aaGuids", ())),
    )


def _profiles(settings: dict[str, Any]) -> tuple[PasskeyProfile, ...]:
    # Rows saved before passkey profiles hold only the tenant-wide values: they become the default profile.
    stored = settings.get("passkeyProfiles")
    if stored is None:
        enforced = bool(settings.get("isAttestationEnforced", False))
        return (
            PasskeyProfile(
                DEFAULT_PROFILE_ID,
                DEFAULT_PROFILE_NAME,
                attestation=(
                    AttestationEnforcement.REGISTRATION_ONLY if enforced else AttestationEnforcement.DISABLED
                ),
                key_restrictions=_restrictions(settings.get("keyRestrictions", {})),
            ),
        )
    return tuple(
        PasskeyProfile(
            str(p["id"]),
            str(p["name"]),
            parse_passkey_types(str(p["passkeyTypes"])),
            AttestationEnforcement(str(p["attestationEnforcement"])),
            _restrictions(p.get("keyRestrictions", {})),
            tuple(str(r) for r in p.get("attestationTrustRoots", ())),
        )
        for p in stored
    )


def _restrictions_json(restrictions: KeyRestrictions) -> dict[str, Any]:
    return {
        "isEnforced": restrictions.is_enforced,
        "enforcementType": restrictions.enforcement_type,
        "aaGuids": list(restrictions.aa_guids),
    }


def _settings(policy: MethodPolicy) -> dict[str, Any]:
    if not isinstance(policy, Fido2Policy):
        return {}
    return {
        "isSelfServiceRegistrationAllowed": policy.is_self_service_registration_allowed,
        # The default profile's values, kept where rows before passkey profiles had them.
        "isAttestationEnforced": policy.is_attestation_enforced,
        "keyRestrictions": _restrictions_json(policy.key_restrictions),
        "passkeyProfiles": [
            {
                "id": p.id,
                "name": p.name,
                "passkeyTypes": passkey_types_text(p.passkey_types),
                "attestationEnforcement": p.attestation.value,
                "keyRestrictions": _restrictions_json(p.key_restrictions),
                "attestationTrustRoots": list(p.trust_roots),
            }
            for p in policy.profiles
        ],
        "allowedPasskeyProfiles": {a.target_id: list(a.profile_ids) for a in policy.assignments},
        "attestationTrustRoots": list(policy.attestation_trust_roots),
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
