"""The passkey (FIDO2) and authenticator-app (software OATH) configurations of the authentication methods
policy: their values, validation, and whom they allow. Targeting is the TAP's (passes/policy_rules.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    DEFAULT_PROFILE_NAME,
    Assignment,
    AttestationEnforcement,
    PasskeyProfile,
    check_profiles,
    check_roots,
    profile_for,
)
from passbridge.methods.passkey_profiles import KeyRestrictions as KeyRestrictions
from passbridge.methods.passkey_profiles import needs_group_ids as profiles_need_group_ids
from passbridge.passes.policy_rules import (
    ALL_USERS,
    PolicyState,
    Target,
    check_targets,
    is_targeted,
    needs_group_ids,
)

FIDO2 = "Fido2"
SOFTWARE_OATH = "SoftwareOath"


class PasswordlessMethod(StrEnum):
    """The methods `method_allowed` answers for (the names registration and sign-in use)."""

    FIDO2 = "fido2"
    SOFTWARE_OATH = "softwareOath"


@dataclass(frozen=True)
class MethodPolicy:
    """What every method configuration holds. New tenants: enabled for all users (our choice, so
    passwordless sign-in works out of the box)."""

    state: PolicyState = PolicyState.ENABLED
    include_targets: tuple[Target, ...] = field(default=(Target("group", ALL_USERS),))
    exclude_targets: tuple[Target, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.state == PolicyState.ENABLED

    def with_changes(self, **changes: object) -> MethodPolicy:
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.validate()
        return updated

    def validate(self, known_group_ids: Iterable[str] | None = None) -> None:
        check_targets(self.include_targets, self.exclude_targets, known_group_ids)

    def needs_group_ids(self, user_id: str) -> bool:
        return needs_group_ids(self.include_targets, self.exclude_targets, user_id)

    def targets(self, user_id: str, group_ids: Iterable[str]) -> bool:
        return is_targeted(self.include_targets, self.exclude_targets, user_id, group_ids)

    def allows(self, user_id: str, group_ids: Iterable[str]) -> bool:
        """Whether this user may register and use the method now."""
        return self.enabled and self.targets(user_id, group_ids)


@dataclass(frozen=True)
class SoftwareOathPolicy(MethodPolicy):
    pass


def default_profile() -> PasskeyProfile:
    return PasskeyProfile(DEFAULT_PROFILE_ID, DEFAULT_PROFILE_NAME)


@dataclass(frozen=True)
class Fido2Policy(MethodPolicy):
    """Passkeys. `profiles` starts with the default profile, whose values Graph also shows as the
    configuration's own isAttestationEnforced and keyRestrictions (methods/passkey_profiles.py)."""

    is_self_service_registration_allowed: bool = True
    profiles: tuple[PasskeyProfile, ...] = field(default=(default_profile(),))
    assignments: tuple[Assignment, ...] = ()
    # PEM roots every profile trusts (a Passbridge extension), besides each profile's own.
    attestation_trust_roots: tuple[str, ...] = ()

    @property
    def default_profile(self) -> PasskeyProfile:
        return self.profiles[0]

    @property
    def is_attestation_enforced(self) -> bool:
        return self.default_profile.attestation_enforced

    @property
    def key_restrictions(self) -> KeyRestrictions:
        return self.default_profile.key_restrictions

    def with_changes(self, **changes: object) -> MethodPolicy:
        """Also takes the tenant-wide `is_attestation_enforced` and `key_restrictions`: the default
        profile's values."""
        default = self.default_profile
        if "is_attestation_enforced" in changes:
            enforced = changes.pop("is_attestation_enforced")
            default = replace(
                default,
                attestation=(
                    AttestationEnforcement.REGISTRATION_ONLY if enforced else AttestationEnforcement.DISABLED
                ),
            )
        if "key_restrictions" in changes:
            default = replace(default, key_restrictions=changes.pop("key_restrictions"))  # type: ignore[arg-type]
        if default != self.default_profile:
            profiles = changes.get("profiles", self.profiles)
            assert isinstance(profiles, tuple)
            changes["profiles"] = (default, *profiles[1:])
        return super().with_changes(**changes)

    def validate(self, known_group_ids: Iterable[str] | None = None) -> None:
        super().validate(known_group_ids)
        check_profiles(self.profiles, self.assignments, self.include_targets)
        check_roots(self.attestation_trust_roots, "attestationTrustRoots")

    def needs_group_ids(self, user_id: str) -> bool:
        return super().needs_group_ids(user_id) or profiles_need_group_ids(self.assignments)

    def profile_for(self, user_id: str, group_ids: Iterable[str]) -> PasskeyProfile:
        return profile_for(self.profiles, self.assignments, user_id, group_ids)

    def trust_roots(self, profile: PasskeyProfile) -> tuple[str, ...]:
        return (*profile.trust_roots, *self.attestation_trust_roots)


def default_policy(config_id: str) -> MethodPolicy:
    return Fido2Policy() if config_id == FIDO2 else SoftwareOathPolicy()
