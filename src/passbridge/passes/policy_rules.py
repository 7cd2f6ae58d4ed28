"""The Temporary Access Pass policy: its values, their validation, and who it targets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from passbridge.domain.errors import InvalidInput

LIFETIME_MIN = 10
LIFETIME_MAX = 43200  # 30 days
LENGTH_MIN = 8
LENGTH_MAX = 48
ALL_USERS = "all_users"


class PolicyState(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Target:
    target_type: str  # "group" or "user"
    id: str
    is_registration_required: bool = False


class Purpose(StrEnum):
    """What a pass may be used for (a Passbridge extension, docs/purpose-bound-passes.md): `signIn` is
    Entra's pass; `enrol` opens a session that may only register or remove the holder's own methods;
    `recover` is `enrol` that also ends the holder's other sessions once a new method is registered."""

    SIGN_IN = "signIn"
    ENROL = "enrol"
    RECOVER = "recover"

    @property
    def bound(self) -> bool:
        """Whether a session begun with such a pass may only set up the holder's own methods."""
        return self is not Purpose.SIGN_IN

    def at_least(self, other: Purpose) -> bool:
        """Whether this purpose is as restrictive as `other` (signIn < enrol < recover): what a policy
        enforcing `other` accepts."""
        order = list(Purpose)
        return order.index(self) >= order.index(other)


def purpose_of(text: str | None) -> Purpose | None:
    """A purpose as a caller named it (any case); None when not given; InvalidInput when unknown."""
    if text is None:
        return None
    for purpose in Purpose:
        if purpose.value.lower() == text.strip().lower():
            return purpose
    raise InvalidInput(f"Invalid purpose '{text}': it must be one of {', '.join(p.value for p in Purpose)}.")


@dataclass(frozen=True)
class TapPolicy:
    """Entra's documented defaults; state and targets are our choice (TAP is this product's purpose)."""

    state: PolicyState = PolicyState.ENABLED
    default_lifetime: int = 60
    default_length: int = 8
    minimum_lifetime: int = 60
    maximum_lifetime: int = 480
    is_usable_once: bool = False
    include_targets: tuple[Target, ...] = field(default=(Target("group", ALL_USERS),))
    exclude_targets: tuple[Target, ...] = ()
    # A Passbridge extension (Graph's includeSymbols on our configuration): passes are letters and digits
    # only unless the policy asks for symbols too.
    include_symbols: bool = False
    # A Passbridge extension (requireReason): issuing a pass needs a reason (a ticket id or a few words),
    # kept in the audit entry and shown in the holder's notice.
    require_reason: bool = False
    # Passbridge extensions (docs/purpose-bound-passes.md): `enforcedPurpose` (a Purpose value or None)
    # is the least a pass may be bound to; `revokeMultiUseAfterPasskey` revokes a multi-use pass once its
    # holder has registered a passkey.
    enforced_purpose: str | None = None
    revoke_multi_use_after_passkey: bool = False

    @property
    def enabled(self) -> bool:
        return self.state == PolicyState.ENABLED

    def with_changes(self, **changes: object) -> TapPolicy:
        """A copy with `changes` applied, validated as a whole (a PATCH keeps what it omits)."""
        updated = replace(self, **changes)  # type: ignore[arg-type]
        updated.validate()
        return updated

    def validate(self, known_group_ids: Iterable[str] | None = None) -> None:
        for name, value in (
            ("minimumLifetimeInMinutes", self.minimum_lifetime),
            ("maximumLifetimeInMinutes", self.maximum_lifetime),
            ("defaultLifetimeInMinutes", self.default_lifetime),
        ):
            if not LIFETIME_MIN <= value <= LIFETIME_MAX:
                raise InvalidInput(f"{name} must be between {LIFETIME_MIN} and {LIFETIME_MAX}; got {value}.")
        if self.minimum_lifetime > self.maximum_lifetime:
            raise InvalidInput(
                f"minimumLifetimeInMinutes ({self.minimum_lifetime}) must not exceed "
                f"maximumLifetimeInMinutes ({self.maximum_lifetime})."
            )
        if not self.minimum_lifetime <= self.default_lifetime <= self.maximum_lifetime:
            raise InvalidInput(
                f"defaultLifetimeInMinutes ({self.default_lifetime}) must lie between the minimum "
                f"({self.minimum_lifetime}) and the maximum ({self.maximum_lifetime})."
            )
        if not LENGTH_MIN <= self.default_length <= LENGTH_MAX:
            raise InvalidInput(
                f"defaultLength must be between {LENGTH_MIN} and {LENGTH_MAX}; got {self.default_length}."
            )
        if self.enforced_purpose is not None and self.enforced_purpose not in set(Purpose):
            raise InvalidInput(
                f"enforcedPurpose must be one of {', '.join(p.value for p in Purpose)} or null; "
                f"got '{self.enforced_purpose}'."
            )
        check_targets(self.include_targets, self.exclude_targets, known_group_ids)

    def needs_group_ids(self, user_id: str) -> bool:
        """Whether `targets` can depend on the user's groups: lets callers skip looking them up."""
        return needs_group_ids(self.include_targets, self.exclude_targets, user_id)

    def targets(self, user_id: str, group_ids: Iterable[str]) -> bool:
        """Whether the policy applies to this user. Exclusion wins over inclusion (our choice)."""
        return is_targeted(self.include_targets, self.exclude_targets, user_id, group_ids)


# Targeting, shared by every method configuration (methods/policy_rules.py for passkeys and apps).


def needs_group_ids(include: Sequence[Target], exclude: Sequence[Target], user_id: str) -> bool:
    """Whether `is_targeted` can depend on the user's groups: lets callers skip looking them up."""
    return any(t.id not in (ALL_USERS, user_id) for t in (*include, *exclude))


def is_targeted(
    include: Sequence[Target], exclude: Sequence[Target], user_id: str, group_ids: Iterable[str]
) -> bool:
    """Whether targets name this user, directly, through a group or as all users. Exclusion wins."""
    member_of = set(group_ids) | {user_id}
    if any(t.id in member_of for t in exclude):
        return False
    return any(t.id == ALL_USERS or t.id in member_of for t in include)


def check_targets(
    include: Sequence[Target], exclude: Sequence[Target], known_group_ids: Iterable[str] | None
) -> None:
    """Targets are well formed; with `known_group_ids`, every group target names an existing group."""
    known = set(known_group_ids) if known_group_ids is not None else None
    _check_targets(include, "includeTargets", known, allow_all=True)
    _check_targets(exclude, "excludeTargets", known, allow_all=False)


def _check_targets(
    targets: Sequence[Target], name: str, known_group_ids: Iterable[str] | None, *, allow_all: bool
) -> None:
    known = set(known_group_ids) if known_group_ids is not None else None
    seen: set[str] = set()
    for target in targets:
        if target.target_type not in ("group", "user"):
            raise InvalidInput(f"{name}: targetType must be 'group' or 'user'; got '{target.target_type}'.")
        if target.id == ALL_USERS:
            if not allow_all:
                raise InvalidInput(f"{name}: '{ALL_USERS}' can only be included, not excluded.")
        elif target.target_type == "group" and known is not None and target.id not in known:
            raise InvalidInput(f"{name}: no group with id '{target.id}' exists.")
        if target.id in seen:
            raise InvalidInput(f"{name}: target '{target.id}' is listed twice.")
        seen.add(target.id)
