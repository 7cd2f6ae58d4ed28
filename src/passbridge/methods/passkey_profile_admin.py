"""Passkey profiles one at a time, for the admin portal and the CLI: list, add, update, delete. Each is a
change of the Fido2 configuration through `PolicyService.update_method`, so it is checked, versioned
and audited exactly as a Graph PATCH is.

A profile's groups are the configuration's include targets that list it (Graph's
allowedPasskeyProfiles). Assigning a profile to a group that is not yet an include target adds it, which
also lets that group use passkeys, as in Entra; removing the group from the profile leaves the target.
"""

from __future__ import annotations

from dataclasses import dataclass

from passbridge.domain.errors import InvalidInput, NotFound
from passbridge.methods.passkey_profiles import (
    DEFAULT_PROFILE_ID,
    AttestationEnforcement,
    KeyRestrictions,
    PasskeyProfile,
    PasskeyType,
    ProfileChange,
    RestrictionChange,
    groups_of,
    new_profile_id,
)
from passbridge.methods.policy_rules import FIDO2, Fido2Policy
from passbridge.passes.policy import MethodChanges, PolicyService
from passbridge.passes.policy_rules import Target


@dataclass(frozen=True)
class ProfileSpec:
    """A whole profile as a form or the command line gives it; `target_ids` None keeps its groups."""

    name: str
    passkey_types: tuple[PasskeyType, ...]
    attestation: AttestationEnforcement
    key_restrictions: KeyRestrictions
    trust_roots: tuple[str, ...]
    target_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ProfileView:
    profile: PasskeyProfile
    target_ids: tuple[str, ...]  # group ids, "all_users"; none for the default profile: everyone else

    @property
    def is_default(self) -> bool:
        return self.profile.id == DEFAULT_PROFILE_ID


@dataclass
class PasskeyProfileAdmin:
    policies: PolicyService

    def _policy(self) -> Fido2Policy:
        _, found = self.policies.configuration(FIDO2)
        assert isinstance(found, Fido2Policy)
        return found

    def all(self) -> list[ProfileView]:
        policy = self._policy()
        return [ProfileView(p, groups_of(policy.assignments, p.id)) for p in policy.profiles]

    def find(self, ref: str) -> ProfileView:
        """A profile by id or by name (any case)."""
        for view in self.all():
            if ref.lower() in (view.profile.id, view.profile.name.casefold()):
                return view
        raise NotFound(f"No passkey profile '{ref}' exists.", kind="passkeyProfile")

    def add(self, spec: ProfileSpec) -> ProfileView:
        policy = self._policy()
        profile_id = new_profile_id()
        changes = [_change(p.id) for p in policy.profiles] + [_change(profile_id, spec)]
        self._save(policy, changes, profile_id, spec.target_ids or ())
        return self.find(profile_id)

    def update(self, ref: str, spec: ProfileSpec) -> ProfileView:
        profile_id = self.find(ref).profile.id
        policy = self._policy()
        changes = [_change(p.id, spec if p.id == profile_id else None) for p in policy.profiles]
        # The default profile is everyone else's: it is never assigned to groups.
        targets = None if profile_id == DEFAULT_PROFILE_ID else spec.target_ids
        self._save(policy, changes, profile_id, targets)
        return self.find(profile_id)

    def delete(self, ref: str) -> PasskeyProfile:
        found = self.find(ref).profile
        if found.id == DEFAULT_PROFILE_ID:
            raise InvalidInput("The default passkey profile cannot be deleted; change its settings instead.")
        policy = self._policy()
        self._save(policy, [_change(p.id) for p in policy.profiles if p.id != found.id], found.id, ())
        return found

    def _save(
        self,
        policy: Fido2Policy,
        profiles: list[ProfileChange],
        profile_id: str,
        target_ids: tuple[str, ...] | None,
    ) -> None:
        include = policy.include_targets
        if target_ids is not None:
            known = {t.id for t in include}
            include = (*include, *(Target("group", t) for t in dict.fromkeys(target_ids) if t not in known))
        assigned = {a.target_id: a.profile_ids for a in policy.assignments}
        allowed: list[tuple[str, tuple[str, ...] | None]] = []
        for target in include:
            ids = tuple(i for i in assigned.get(target.id, ()) if i != profile_id)
            if target_ids is None and profile_id in assigned.get(target.id, ()):
                ids = assigned[target.id]
            elif target_ids is not None and target.id in target_ids:
                ids = (*ids, profile_id)
            allowed.append((target.id, ids))
        self.policies.update_method(
            FIDO2,
            MethodChanges(
                include_targets=include,
                passkey_profiles=tuple(profiles),
                allowed_profiles=tuple(allowed),
            ),
        )


def _change(profile_id: str, spec: ProfileSpec | None = None) -> ProfileChange:
    if spec is None:
        return ProfileChange(id=profile_id)
    restrictions = spec.key_restrictions
    return ProfileChange(
        id=profile_id,
        name=spec.name,
        passkey_types=spec.passkey_types,
        attestation=spec.attestation,
        key_restrictions=RestrictionChange(
            restrictions.is_enforced, restrictions.enforcement_type, restrictions.aa_guids
        ),
        trust_roots=spec.trust_roots,
    )
