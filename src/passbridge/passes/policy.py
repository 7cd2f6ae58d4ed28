"""The authentication methods policy: reading it, changing and resetting its method configurations
(Temporary Access Pass, Fido2, SoftwareOath), and whether a user may use a passwordless method
(`method_allowed`). Passes are judged against the current policy at every read and use
(passes/service.py), so a change here reaches existing passes at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from passbridge.directory import access
from passbridge.directory.rules import Role
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.logs import audit
from passbridge.logs.audit import ModifiedProperty, TargetRef
from passbridge.methods import config_queries as method_config
from passbridge.methods.passkey_profiles import (
    Assignment,
    AttestationEnforcement,
    KeyRestrictions,
    PasskeyProfile,
    ProfileChange,
    RestrictionChange,
    merge_assignments,
    merge_profiles,
    passkey_types_text,
)
from passbridge.methods.policy_rules import (
    FIDO2,
    SOFTWARE_OATH,
    Fido2Policy,
    MethodPolicy,
    PasswordlessMethod,
    default_policy,
)
from passbridge.passes import policy_queries as store
from passbridge.passes import queries as tap_store
from passbridge.passes.policy_rules import ALL_USERS, PolicyState, TapPolicy, Target, purpose_of
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx

READ = ("Policy.Read.AuthenticationMethod", "Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
WRITE = ("Policy.ReadWrite.AuthenticationMethod",)
WRITE_ROLES = frozenset({Role.AUTHENTICATION_POLICY_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR})
READ_ROLES = WRITE_ROLES | {Role.GLOBAL_READER}
SERVICE = "Authentication Methods"

TAP = "TemporaryAccessPass"
# Method configurations by case-folded id, in the order the policy lists them.
CONFIGURATION_IDS = {TAP.casefold(): TAP, FIDO2.casefold(): FIDO2, SOFTWARE_OATH.casefold(): SOFTWARE_OATH}
DISPLAY_NAMES = {
    TAP: "Temporary Access Pass",
    FIDO2: "Passkey (FIDO2)",
    SOFTWARE_OATH: "Software OATH tokens",
}


@dataclass(frozen=True)
class TapChanges:
    """A PATCH of the TAP configuration: None keeps the current value."""

    state: PolicyState | None = None
    default_lifetime: int | None = None
    default_length: int | None = None
    minimum_lifetime: int | None = None
    maximum_lifetime: int | None = None
    is_usable_once: bool | None = None
    include_targets: tuple[Target, ...] | None = None
    exclude_targets: tuple[Target, ...] | None = None
    include_symbols: bool | None = None
    require_reason: bool | None = None
    # "" clears the enforced purpose (None keeps it, as every other field).
    enforced_purpose: str | None = None
    revoke_multi_use_after_passkey: bool | None = None

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class KeyRestrictionChanges:
    """A PATCH of Fido2's keyRestrictions: None keeps the current value (OData merges complex values)."""

    is_enforced: bool | None = None
    enforcement_type: str | None = None
    aa_guids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class MethodChanges:
    """A PATCH of the Fido2 or SoftwareOath configuration: None keeps the current value."""

    state: PolicyState | None = None
    include_targets: tuple[Target, ...] | None = None
    exclude_targets: tuple[Target, ...] | None = None
    is_self_service_registration_allowed: bool | None = None
    is_attestation_enforced: bool | None = None
    key_restrictions: KeyRestrictionChanges | None = None
    # Passkey profiles (methods/passkey_profiles.py): the whole collection, merged by id; per include
    # target (in include_targets' order) its allowedPasskeyProfiles, None where a target omitted them.
    passkey_profiles: tuple[ProfileChange, ...] | None = None
    allowed_profiles: tuple[tuple[str, tuple[str, ...] | None], ...] | None = None
    attestation_trust_roots: tuple[str, ...] | None = None

    def fido2_only(self) -> list[str]:
        """Graph's names of the given properties that only the Fido2 configuration has."""
        return [
            graph
            for name, graph in (
                ("is_self_service_registration_allowed", "isSelfServiceRegistrationAllowed"),
                ("is_attestation_enforced", "isAttestationEnforced"),
                ("key_restrictions", "keyRestrictions"),
                ("passkey_profiles", "passkeyProfiles"),
                ("attestation_trust_roots", "attestationTrustRoots"),
            )
            if getattr(self, name) is not None
        ]


@dataclass(frozen=True)
class MethodsPolicy:
    """The whole policy as Graph's authenticationMethodsPolicy shows it."""

    version: int
    last_modified: datetime | None
    tap: TapPolicy
    fido2: MethodPolicy = field(default_factory=lambda: default_policy(FIDO2))
    software_oath: MethodPolicy = field(default_factory=lambda: default_policy(SOFTWARE_OATH))


# Graph's property names, for audit entries that say what changed.
GRAPH_NAMES = {
    "state": "state",
    "default_lifetime": "defaultLifetimeInMinutes",
    "default_length": "defaultLength",
    "minimum_lifetime": "minimumLifetimeInMinutes",
    "maximum_lifetime": "maximumLifetimeInMinutes",
    "is_usable_once": "isUsableOnce",
    "include_symbols": "includeSymbols",
    "require_reason": "requireReason",
    "enforced_purpose": "enforcedPurpose",
    "revoke_multi_use_after_passkey": "revokeMultiUseAfterPasskey",
    "include_targets": "includeTargets",
    "exclude_targets": "excludeTargets",
    "is_self_service_registration_allowed": "isSelfServiceRegistrationAllowed",
    "is_attestation_enforced": "isAttestationEnforced",
    "key_restrictions": "keyRestrictions",
    "profiles": "passkeyProfiles",
    "assignments": "allowedPasskeyProfiles",
    "attestation_trust_roots": "attestationTrustRoots",
}


def configuration_id(text: str) -> str:
    """The canonical id of a method configuration; Graph matches it case-insensitively."""
    found = CONFIGURATION_IDS.get(text.casefold())
    if found is None:
        raise NotFound(
            f"No authentication method configuration with id '{text}' exists.", kind="configuration"
        )
    return found


def _tap_id(config_id: str) -> str:
    """The TAP configuration's id, refusing another configuration's (each has its own properties)."""
    canonical = configuration_id(config_id)
    if canonical != TAP:
        raise InvalidInput(f"The {canonical} configuration has no Temporary Access Pass properties.")
    return canonical


def _graph_value(name: str, value: object) -> Any:
    if name == "profiles" and isinstance(value, tuple):
        return [_profile_value(p) for p in value if isinstance(p, PasskeyProfile)]
    if name == "assignments" and isinstance(value, tuple):
        return {a.target_id: list(a.profile_ids) for a in value if isinstance(a, Assignment)}
    if name == "attestation_trust_roots" and isinstance(value, tuple):
        return len(value)  # the count: certificates would swamp the audit entry
    if isinstance(value, tuple):
        return [{"targetType": t.target_type, "id": t.id} for t in value if isinstance(t, Target)]
    if isinstance(value, KeyRestrictions):
        return {
            "isEnforced": value.is_enforced,
            "enforcementType": value.enforcement_type,
            "aaGuids": list(value.aa_guids),
        }
    return value.value if isinstance(value, PolicyState) else value


def _profile_value(profile: PasskeyProfile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "passkeyTypes": passkey_types_text(profile.passkey_types),
        "attestationEnforcement": profile.attestation.value,
        "keyRestrictions": _graph_value("key_restrictions", profile.key_restrictions),
        "attestationTrustRoots": len(profile.trust_roots),
    }


Configuration = TapPolicy | MethodPolicy


def _differences(old: Configuration, new: Configuration) -> tuple[ModifiedProperty, ...]:
    return tuple(
        ModifiedProperty(
            graph, _graph_value(name, getattr(old, name)), _graph_value(name, getattr(new, name))
        )
        for name, graph in GRAPH_NAMES.items()
        if hasattr(new, name) and getattr(old, name) != getattr(new, name)
    )


def _normalise(target: Target) -> Target:
    # Object ids are GUIDs, which Graph compares without regard to case; stored ids are lower case.
    try:
        canonical = str(uuid.UUID(target.id))
    except ValueError:
        return target
    return Target(target.target_type, canonical, target.is_registration_required)


def _check(principal: Principal, permissions: tuple[str, ...], roles: frozenset[Role], what: str) -> None:
    access.require_app_permission(principal, *permissions)
    if principal.kind == "user" and not principal.roles & roles:
        names = " or ".join(sorted(r.display_name for r in roles))
        raise PermissionDenied(f"To {what} the authentication methods policy you need the role {names}.")


def require_may_change(principal: Principal) -> None:
    """Needs no database: edges call it before reading a body, so the unauthorised get 403, not 400."""
    _check(principal, WRITE, WRITE_ROLES, "change")


@dataclass
class PolicyService:
    tx: Tx
    env: Env
    principal: Principal

    def _check(self, permissions: tuple[str, ...], roles: frozenset[Role], what: str) -> None:
        _check(self.principal, permissions, roles, what)

    def methods_policy(self) -> MethodsPolicy:
        self._check(READ, READ_ROLES, "read")
        tap, _ = store.load(self.tx)
        stamp = store.stamp(self.tx)
        return MethodsPolicy(
            stamp.version,
            stamp.last_modified,
            tap,
            method_config.load(self.tx, FIDO2),
            method_config.load(self.tx, SOFTWARE_OATH),
        )

    def configuration(self, config_id: str) -> tuple[str, Configuration]:
        """Any method configuration by id (any case): its canonical id and its values."""
        self._check(READ, READ_ROLES, "read")
        canonical = configuration_id(config_id)
        if canonical == TAP:
            return canonical, store.load(self.tx)[0]
        return canonical, method_config.load(self.tx, canonical)

    def update_method(self, config_id: str, changes: MethodChanges) -> MethodPolicy:
        """PATCH the Fido2 or SoftwareOath configuration; validated as a whole, like the TAP's."""
        self._check(WRITE, WRITE_ROLES, "change")
        canonical = configuration_id(config_id)
        if canonical == TAP:
            raise InvalidInput("Use the Temporary Access Pass configuration's own properties.")
        current = method_config.lock(self.tx, canonical)
        given: dict[str, object] = {}
        if changes.state is not None:
            given["state"] = changes.state
        if changes.include_targets is not None:
            given["include_targets"] = tuple(_normalise(t) for t in changes.include_targets)
        if changes.exclude_targets is not None:
            given["exclude_targets"] = tuple(_normalise(t) for t in changes.exclude_targets)
        if isinstance(current, Fido2Policy):
            given.update(_fido2_changes(current, changes))
        elif changes.fido2_only():
            names = ", ".join(changes.fido2_only())
            raise InvalidInput(f"The {canonical} configuration has no property {names}.")
        updated = current.with_changes(**given)
        self._check_targets_exist(updated)
        self._save_method(canonical, current, updated, "Authentication Methods Policy Update")
        return updated

    def reset_method(self, config_id: str) -> MethodPolicy:
        self._check(WRITE, WRITE_ROLES, "reset")
        canonical = configuration_id(config_id)
        current = method_config.lock(self.tx, canonical)
        defaults = default_policy(canonical)
        self._save_method(canonical, current, defaults, "Authentication Methods Policy Reset")
        return defaults

    def tap_policy(self, config_id: str = TAP) -> TapPolicy:
        self._check(READ, READ_ROLES, "read")
        _tap_id(config_id)
        tap, _ = store.load(self.tx)
        return tap

    def update_tap(self, changes: TapChanges, config_id: str = TAP) -> TapPolicy:
        """Apply a PATCH; the result is validated as a whole, so a change that only makes sense
        together with another (raising the minimum above the default) needs both in one call."""
        self._check(WRITE, WRITE_ROLES, "change")
        _tap_id(config_id)
        current, _ = store.load(self.tx, for_update=True)
        given = changes.given()
        if changes.enforced_purpose is not None:
            # Any case, as Graph's enumerations; "" (or JSON null at the edge) lifts the binding.
            purpose = purpose_of(changes.enforced_purpose) if changes.enforced_purpose.strip() else None
            given["enforced_purpose"] = purpose.value if purpose else None
        if changes.include_targets is not None:
            given["include_targets"] = tuple(_normalise(t) for t in changes.include_targets)
        if changes.exclude_targets is not None:
            given["exclude_targets"] = tuple(_normalise(t) for t in changes.exclude_targets)
        updated = current.with_changes(**given)
        self._check_targets_exist(updated)
        self._save(current, updated, "Authentication Methods Policy Update")
        return updated

    def reset_tap(self, config_id: str = TAP) -> TapPolicy:
        self._check(WRITE, WRITE_ROLES, "reset")
        _tap_id(config_id)
        current, _ = store.load(self.tx, for_update=True)
        defaults = TapPolicy()
        self._save(current, defaults, "Authentication Methods Policy Reset")
        return defaults

    def _check_targets_exist(self, policy: Configuration) -> None:
        targets = (*policy.include_targets, *policy.exclude_targets)
        group_ids = {t.id for t in targets if t.target_type == "group" and t.id != ALL_USERS}
        policy.validate(known_group_ids=store.existing_group_ids(self.tx, group_ids))
        user_ids = {t.id for t in targets if t.target_type == "user" and t.id != ALL_USERS}
        known_users = store.existing_user_ids(self.tx, user_ids)
        for name, listed in (
            ("includeTargets", policy.include_targets),
            ("excludeTargets", policy.exclude_targets),
        ):
            for target in listed:
                if target.target_type == "user" and target.id != ALL_USERS and target.id not in known_users:
                    raise InvalidInput(f"{name}: no user with id '{target.id}' exists.")

    def _save(self, old: TapPolicy, new: TapPolicy, activity: str) -> None:
        now = self.env.clock.now()
        store.save(self.tx, new, now=now)
        audit.record(
            self.tx,
            now=now,
            principal=self.principal,
            activity=activity,
            category="Policy",
            operation_type="Update",
            logged_by_service=SERVICE,
            targets=[
                TargetRef("Policy", TAP, "Temporary Access Pass", modified_properties=_differences(old, new))
            ],
        )

    def _save_method(self, config_id: str, old: MethodPolicy, new: MethodPolicy, activity: str) -> None:
        now = self.env.clock.now()
        method_config.save(self.tx, config_id, new, now=now)
        audit.record(
            self.tx,
            now=now,
            principal=self.principal,
            activity=activity,
            category="Policy",
            operation_type="Update",
            logged_by_service=SERVICE,
            targets=[
                TargetRef(
                    "Policy", config_id, DISPLAY_NAMES[config_id], modified_properties=_differences(old, new)
                )
            ],
        )


def _fido2_changes(current: Fido2Policy, changes: MethodChanges) -> dict[str, object]:
    given: dict[str, object] = {}
    if changes.is_self_service_registration_allowed is not None:
        given["is_self_service_registration_allowed"] = changes.is_self_service_registration_allowed
    profiles = current.profiles
    if changes.passkey_profiles is not None:
        profiles = merge_profiles(current.profiles, changes.passkey_profiles)
    # The tenant-wide isAttestationEnforced and keyRestrictions are the default profile's. Sent with
    # passkeyProfiles they must agree with it: one silently overwriting the other would surprise.
    default = legacy = profiles[0]
    if changes.is_attestation_enforced is not None:
        wanted = (
            AttestationEnforcement.REGISTRATION_ONLY
            if changes.is_attestation_enforced
            else (AttestationEnforcement.DISABLED)
        )
        legacy = replace(legacy, attestation=wanted)
    if changes.key_restrictions is not None:
        merged = _merged_restrictions(legacy.key_restrictions, changes.key_restrictions)
        legacy = replace(legacy, key_restrictions=merged)
    if changes.passkey_profiles is not None and legacy != default:
        raise InvalidInput(
            "isAttestationEnforced or keyRestrictions disagrees with the default passkey profile in "
            "passkeyProfiles; they are the same setting, so send one of them."
        )
    if changes.passkey_profiles is not None or legacy != default:
        given["profiles"] = (legacy, *profiles[1:])
    include = changes.include_targets
    if changes.allowed_profiles is not None:
        given["assignments"] = merge_assignments(current.assignments, changes.allowed_profiles)
    elif include is not None or changes.passkey_profiles is not None:
        # Targets a PATCH removed take their profiles with them, and profiles it removed leave their targets.
        kept = {_normalise(t).id for t in include} if include is not None else None
        ids = {p.id for p in profiles}
        given["assignments"] = tuple(
            Assignment(a.target_id, tuple(i for i in a.profile_ids if i in ids))
            for a in current.assignments
            if (kept is None or a.target_id in kept) and any(i in ids for i in a.profile_ids)
        )
    if changes.attestation_trust_roots is not None:
        given["attestation_trust_roots"] = changes.attestation_trust_roots
    return given


def _merged_restrictions(current: KeyRestrictions, wanted: KeyRestrictionChanges) -> KeyRestrictions:
    return RestrictionChange(wanted.is_enforced, wanted.enforcement_type, wanted.aa_guids).applied_to(current)


_CONFIG_OF_METHOD = {PasswordlessMethod.FIDO2: FIDO2, PasswordlessMethod.SOFTWARE_OATH: SOFTWARE_OATH}


def method_allowed(tx: Tx, user_id: str, method: str) -> bool:
    """Whether the policy lets this user register and sign in with `method` ("fido2" or
    "softwareOath") now: its configuration is enabled and targets the user (exclusion wins). For
    registration of a passkey, also ask `passkey_registration_allowed`. Raises ValueError for another
    method name."""
    policy = method_config.load(tx, _CONFIG_OF_METHOD[PasswordlessMethod(method)])
    if not policy.enabled:
        return False
    groups = tap_store.group_ids_of(tx, user_id) if policy.needs_group_ids(user_id) else ()
    return policy.targets(user_id, groups)


def passkey_registration_allowed(tx: Tx, user_id: str) -> bool:
    """`method_allowed` for fido2, and the configuration's isSelfServiceRegistrationAllowed."""
    policy = method_config.load(tx, FIDO2)
    self_service = not isinstance(policy, Fido2Policy) or policy.is_self_service_registration_allowed
    return self_service and method_allowed(tx, user_id, PasswordlessMethod.FIDO2)


def passkey_profile(tx: Tx, user_id: str) -> tuple[PasskeyProfile, tuple[str, ...]]:
    """The passkey profile that applies to this user (methods/passkey_profiles.py) and the attestation
    roots it trusts (its own and the configuration's)."""
    policy = method_config.load(tx, FIDO2)
    assert isinstance(policy, Fido2Policy)
    groups = tap_store.group_ids_of(tx, user_id) if policy.needs_group_ids(user_id) else ()
    profile = policy.profile_for(user_id, groups)
    return profile, policy.trust_roots(profile)
