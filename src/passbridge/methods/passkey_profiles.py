"""Passkey profiles (Entra's passkeyProfile): per-group rules for which passkeys may be registered.
Pure: no I/O.

A profile says which passkey types are allowed (device-bound, synced or both), which authenticator
models (an AAGUID allow- or block-list) and whether attestation is enforced. The Fido2 configuration
always holds the default profile (the tenant-wide keyRestrictions and isAttestationEnforced are its
values); more profiles are assigned to the configuration's include targets (Graph's
`includeTargets[].allowedPasskeyProfiles`).

Which profile applies to a person: the first profile, in the configuration's order, assigned to an
include target that names them (all users, one of their groups, or themselves); the default profile when
none is. One profile decides, so an administrator can read off the rule a person gets.

An AAGUID names an authenticator model, but without attestation it is the authenticator's own claim:
any software can claim any AAGUID. Only with attestation enforced (a statement whose certificate chain
ends at a root the administrator trusts) does an allow-list keep other models out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509

from passbridge.domain.errors import InvalidInput
from passbridge.passes.policy_rules import ALL_USERS, Target

DEFAULT_PROFILE_ID = "00000000-0000-0000-0000-000000000001"
DEFAULT_PROFILE_NAME = "Default passkey profile"
NAME_MAX = 64
MAX_PROFILES = 20
MAX_AAGUIDS = 200
MAX_ROOTS = 20
MAX_ROOT_CHARS = 16 * 1024
ENFORCEMENT_TYPES = ("allow", "block")


class PasskeyType(StrEnum):
    DEVICE_BOUND = "deviceBound"
    SYNCED = "synced"


ALL_TYPES = (PasskeyType.DEVICE_BOUND, PasskeyType.SYNCED)


class AttestationEnforcement(StrEnum):
    DISABLED = "disabled"
    REGISTRATION_ONLY = "registrationOnly"


@dataclass(frozen=True)
class KeyRestrictions:
    """Graph's fido2KeyRestrictions. Enforced on the passkey's AAGUID at registration; that AAGUID is
    vouched for only when the profile enforces attestation (module docstring)."""

    is_enforced: bool = False
    enforcement_type: str = "block"
    aa_guids: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.enforcement_type not in ENFORCEMENT_TYPES:
            raise InvalidInput(
                f"keyRestrictions.enforcementType must be 'allow' or 'block'; got '{self.enforcement_type}'."
            )
        if len(self.aa_guids) > MAX_AAGUIDS:
            raise InvalidInput(f"keyRestrictions.aaGuids: at most {MAX_AAGUIDS} AAGUIDs.")
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
        return KeyRestrictions(self.is_enforced, self.enforcement_type, tuple(seen))

    def admits(self, aaguid: str) -> bool:
        if not self.is_enforced:
            return True
        listed = aaguid.lower() in self.aa_guids
        return listed if self.enforcement_type == "allow" else not listed


@dataclass(frozen=True)
class PasskeyProfile:
    id: str
    name: str
    passkey_types: tuple[PasskeyType, ...] = ALL_TYPES
    attestation: AttestationEnforcement = AttestationEnforcement.DISABLED
    key_restrictions: KeyRestrictions = KeyRestrictions()
    # PEM certificates of the authenticator vendors' attestation roots this profile trusts, besides the
    # configuration's own (a Passbridge extension: Entra trusts the FIDO metadata service instead).
    trust_roots: tuple[str, ...] = ()

    @property
    def attestation_enforced(self) -> bool:
        return self.attestation == AttestationEnforcement.REGISTRATION_ONLY

    @property
    def device_bound_only(self) -> bool:
        return PasskeyType.SYNCED not in self.passkey_types

    def validate(self) -> None:
        if not self.name.strip():
            raise InvalidInput("A passkey profile needs a name.")
        if len(self.name) > NAME_MAX:
            raise InvalidInput(f"A passkey profile's name has at most {NAME_MAX} characters.")
        if not self.passkey_types:
            raise InvalidInput(
                f"Passkey profile '{self.name}': passkeyTypes must allow deviceBound, synced or both."
            )
        self.key_restrictions.validate()
        check_roots(self.trust_roots, f"Passkey profile '{self.name}'")


def check_roots(roots: Sequence[str], what: str) -> None:
    """Each root one PEM certificate that parses, so a typo is refused when saved, not at registration."""
    if len(roots) > MAX_ROOTS:
        raise InvalidInput(f"{what}: at most {MAX_ROOTS} attestation root certificates.")
    for root in roots:
        if len(root) > MAX_ROOT_CHARS or root.count("-----BEGIN CERTIFICATE-----") != 1:
            raise InvalidInput(
                f"{what}: each attestation root must be one PEM certificate (BEGIN CERTIFICATE)."
            )
        try:
            x509.load_pem_x509_certificate(root.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise InvalidInput(f"{what}: an attestation root is not a readable PEM certificate.") from None


def split_pem(text: str) -> tuple[str, ...]:
    """Certificates pasted or uploaded together, one PEM block each."""
    end = "-----END CERTIFICATE-----"
    blocks = [b.strip() + "\n" + end for b in text.split(end) if b.strip()]
    return tuple(b[b.find("-----BEGIN") :] if "-----BEGIN" in b else b for b in blocks)


def parse_passkey_types(text: str | Iterable[str]) -> tuple[PasskeyType, ...]:
    """Graph writes the flags as "deviceBound,synced"; a list of names is read too."""
    names = text.split(",") if isinstance(text, str) else list(text)
    found: list[PasskeyType] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        try:
            kind = PasskeyType(name)
        except ValueError:
            raise InvalidInput(f"passkeyTypes: '{name}' is not deviceBound or synced.") from None
        if kind not in found:
            found.append(kind)
    return tuple(t for t in ALL_TYPES if t in found)


def passkey_types_text(types: Sequence[PasskeyType]) -> str:
    return ",".join(t.value for t in ALL_TYPES if t in types)


def new_profile_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Assignment:
    """The profiles one include target (a group, a user or all users) is allowed: Graph's
    passkeyAuthenticationMethodTarget.allowedPasskeyProfiles. Empty means the default profile."""

    target_id: str
    profile_ids: tuple[str, ...] = field(default=())


def check_profiles(
    profiles: Sequence[PasskeyProfile], assignments: Sequence[Assignment], include: Sequence[Target]
) -> None:
    """The default profile first and once, ids and names unique, every assignment on an include target
    and naming an existing profile."""
    if not profiles or profiles[0].id != DEFAULT_PROFILE_ID:
        raise InvalidInput(f"The default passkey profile ({DEFAULT_PROFILE_ID}) cannot be removed.")
    if len(profiles) > MAX_PROFILES:
        raise InvalidInput(f"At most {MAX_PROFILES} passkey profiles.")
    ids: set[str] = set()
    names: set[str] = set()
    for profile in profiles:
        profile.validate()
        if profile.id in ids:
            raise InvalidInput(f"Two passkey profiles have the id '{profile.id}'.")
        if profile.name.casefold() in names:
            raise InvalidInput(f"Two passkey profiles are named '{profile.name}'.")
        ids.add(profile.id)
        names.add(profile.name.casefold())
    targets = {t.id for t in include}
    for assignment in assignments:
        if assignment.target_id not in targets:
            raise InvalidInput(
                f"allowedPasskeyProfiles: '{assignment.target_id}' is not one of the includeTargets."
            )
        for profile_id in assignment.profile_ids:
            if profile_id not in ids:
                raise InvalidInput(f"allowedPasskeyProfiles: no passkey profile has the id '{profile_id}'.")


def profile_for(
    profiles: Sequence[PasskeyProfile],
    assignments: Sequence[Assignment],
    user_id: str,
    group_ids: Iterable[str],
) -> PasskeyProfile:
    """The one profile that applies (module docstring): the first in order assigned to a target naming
    the person, else the default profile (profiles[0])."""
    member_of = set(group_ids) | {user_id, ALL_USERS}
    allowed = {p for a in assignments if a.target_id in member_of for p in a.profile_ids}
    for profile in profiles[1:]:
        if profile.id in allowed:
            return profile
    return profiles[0]


def needs_group_ids(assignments: Sequence[Assignment]) -> bool:
    return any(a.profile_ids for a in assignments if a.target_id != ALL_USERS)


@dataclass(frozen=True)
class Candidate:
    """What registration learnt of a new passkey."""

    aaguid: str
    backup_eligible: bool
    attested: bool  # a statement verified up to one of the profile's trusted roots


def refusal(profile: PasskeyProfile, candidate: Candidate) -> str | None:
    """Why this profile refuses the passkey, in words for the person registering it; None if it admits
    it. Attestation first: without it, an AAGUID proves nothing."""
    if profile.attestation_enforced and not candidate.attested:
        return (
            "Your organisation only accepts passkeys whose maker it can verify (attestation), and this "
            "passkey's could not be verified against the authenticators it trusts. Use a security key "
            "your organisation provides."
        )
    if candidate.backup_eligible and PasskeyType.SYNCED not in profile.passkey_types:
        return (
            "Your organisation only accepts device-bound passkeys (such as a security key), not passkeys "
            "that sync between devices through a password manager or cloud account."
        )
    if not candidate.backup_eligible and PasskeyType.DEVICE_BOUND not in profile.passkey_types:
        return "Your organisation only accepts synced passkeys; this one is bound to one device."
    if not profile.key_restrictions.admits(candidate.aaguid):
        return (
            "Your organisation does not accept this model of passkey or security key. Ask your helpdesk "
            "which models you may use."
        )
    return None


@dataclass(frozen=True)
class Steering:
    """What the registration options ask of the browser for a profile (WebAuthn can only hint)."""

    attestation: str  # "none" or "direct"
    prefer_security_key: bool


def steering(profile: PasskeyProfile) -> Steering:
    # Direct attestation also when only key restrictions apply: browsers may zero the AAGUID of a
    # credential created with attestation "none".
    direct = profile.attestation_enforced or profile.key_restrictions.is_enforced
    return Steering("direct" if direct else "none", profile.device_bound_only)


@dataclass(frozen=True)
class RestrictionChange:
    """A PATCH of a keyRestrictions value: None keeps the current value (OData merges complex values)."""

    is_enforced: bool | None = None
    enforcement_type: str | None = None
    aa_guids: tuple[str, ...] | None = None

    def applied_to(self, current: KeyRestrictions) -> KeyRestrictions:
        merged = KeyRestrictions(
            current.is_enforced if self.is_enforced is None else self.is_enforced,
            current.enforcement_type if self.enforcement_type is None else self.enforcement_type,
            current.aa_guids if self.aa_guids is None else self.aa_guids,
        )
        merged.validate()
        return merged.normalised()


@dataclass(frozen=True)
class ProfileChange:
    """One profile of a PATCH's passkeyProfiles: None keeps the stored value (matched by id); a profile
    with a new id (or none) is added with the defaults for what it omits."""

    id: str | None = None
    name: str | None = None
    passkey_types: tuple[PasskeyType, ...] | None = None
    attestation: AttestationEnforcement | None = None
    key_restrictions: RestrictionChange | None = None
    trust_roots: tuple[str, ...] | None = None


def merge_profiles(
    current: Sequence[PasskeyProfile], given: Sequence[ProfileChange]
) -> tuple[PasskeyProfile, ...]:
    """The profiles a PATCH's collection leaves: the given ones in the given order (the default profile
    first whatever its place), each merged into the stored profile of its id."""
    stored = {p.id: p for p in current}
    merged: list[PasskeyProfile] = []
    for change in given:
        profile_id = (change.id or new_profile_id()).lower()
        try:
            profile_id = str(uuid.UUID(profile_id))
        except ValueError:
            raise InvalidInput(f"passkeyProfiles: the id '{change.id}' is not a GUID.") from None
        base = stored.get(profile_id)
        if base is None:
            if change.name is None:
                raise InvalidInput("passkeyProfiles: a new passkey profile needs a name.")
            base = PasskeyProfile(profile_id, change.name)
        merged.append(
            PasskeyProfile(
                profile_id,
                change.name if change.name is not None else base.name,
                change.passkey_types if change.passkey_types is not None else base.passkey_types,
                change.attestation if change.attestation is not None else base.attestation,
                (
                    change.key_restrictions.applied_to(base.key_restrictions)
                    if change.key_restrictions is not None
                    else base.key_restrictions
                ),
                change.trust_roots if change.trust_roots is not None else base.trust_roots,
            )
        )
    defaults = [p for p in merged if p.id == DEFAULT_PROFILE_ID]
    others = [p for p in merged if p.id != DEFAULT_PROFILE_ID]
    if not defaults:
        raise InvalidInput(f"The default passkey profile ({DEFAULT_PROFILE_ID}) cannot be removed.")
    # A second default (the same id twice) stays in, for check_profiles to refuse by name.
    return (defaults[0], *others, *defaults[1:])


def merge_assignments(
    current: Sequence[Assignment], given: Sequence[tuple[str, tuple[str, ...] | None]]
) -> tuple[Assignment, ...]:
    """Assignments for a PATCH's includeTargets: (target id, allowedPasskeyProfiles or None when the
    target omitted it, which keeps what was stored for it). Only the default profile is no assignment."""
    stored = {a.target_id: a.profile_ids for a in current}
    result: list[Assignment] = []
    for raw_id, ids in given:
        target_id = _guid_or_same(raw_id)
        chosen = (
            stored.get(target_id, ()) if ids is None else tuple(dict.fromkeys(_guid_or_same(i) for i in ids))
        )
        chosen = tuple(i for i in chosen if i != DEFAULT_PROFILE_ID)
        if chosen:
            result.append(Assignment(target_id, chosen))
    return tuple(result)


def _guid_or_same(text: str) -> str:
    # Object and profile ids are GUIDs, compared without regard to case; stored lower case.
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def groups_of(assignments: Sequence[Assignment], profile_id: str) -> tuple[str, ...]:
    """The include targets a profile is assigned to (the portal's and the CLI's view of a profile)."""
    return tuple(a.target_id for a in assignments if profile_id in a.profile_ids)
