"""The passkey (FIDO2) and authenticator-app (software OATH) configurations of the authentication methods
policy: their values, validation, and whom they allow. Targeting is the TAP's (passes/policy_rules.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from passbridge.domain.errors import InvalidInput
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


ENFORCEMENT_TYPES = ("allow", "block")


@dataclass(frozen=True)
class KeyRestrictions:
    """Graph's fido2KeyRestrictions. Stored and shown; Passbridge enforces none of it (attestation is
    "none", so an AAGUID is the authenticator's own unverified claim)."""

    is_enforced: bool = False
    enforcement_type: str = "block"
    aa_guids: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.enforcement_type not in ENFORCEMENT_TYPES:
            raise InvalidInput(
                f"keyRestrictions.enforcementType must be 'allow' or 'block'; got '{self.enforcement_type}'."
            )
        for value in self.aa_guids:
            try:
                uuid.UUID(value)
            except ValueError:
                raise InvalidInput(f"keyRestrictions.aaGuids: '{value}' is not a GUID.") from None

    def normalised(self) -> KeyRestrictions:
        """AAGUIDs lower case, each once, in the order given."""
        seen: dict[str, None] = {}
        for value in self.aa_guids:
            seen.setdefault(str(uuid.UUID(value)), None)
        return replace(self, aa_guids=tuple(seen))


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


@dataclass(frozen=True)
class Fido2Policy(MethodPolicy):
    is_self_service_registration_allowed: bool = True
    is_attestation_enforced: bool = False
    key_restrictions: KeyRestrictions = KeyRestrictions()

    def validate(self, known_group_ids: Iterable[str] | None = None) -> None:
        super().validate(known_group_ids)
        if self.is_attestation_enforced:
            raise InvalidInput(
                "isAttestationEnforced cannot be true: Passbridge requests attestation 'none' when "
                "registering passkeys, so it has no attestation to enforce."
            )
        self.key_restrictions.validate()


def default_policy(config_id: str) -> MethodPolicy:
    return Fido2Policy() if config_id == FIDO2 else SoftwareOathPolicy()
