"""The authentication methods policy: reading it, changing the Temporary Access Pass configuration
and resetting it. Passes are judged against the current policy at every read and use
(services/taps.py), so a change here reaches existing passes at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from passbridge.domain.directory import Role
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.domain.policy import ALL_USERS, PolicyState, TapPolicy, Target
from passbridge.services import access, audit
from passbridge.services.audit import ModifiedProperty, TargetRef
from passbridge.services.context import Env, Principal
from passbridge.store import policy as store

READ = ("Policy.Read.AuthenticationMethod", "Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod")
WRITE = ("Policy.ReadWrite.AuthenticationMethod",)
WRITE_ROLES = frozenset({Role.AUTHENTICATION_POLICY_ADMINISTRATOR, Role.GLOBAL_ADMINISTRATOR})
READ_ROLES = WRITE_ROLES | {Role.GLOBAL_READER}
SERVICE = "Authentication Methods"

TAP = "TemporaryAccessPass"
# Method configurations by case-folded id. Fido2 and SoftwareOath join here as they are built.
CONFIGURATION_IDS = {TAP.casefold(): TAP}


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

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class MethodsPolicy:
    """The whole policy as Graph's authenticationMethodsPolicy shows it."""

    version: int
    last_modified: datetime | None
    tap: TapPolicy


# Graph's property names, for audit entries that say what changed.
GRAPH_NAMES = {
    "state": "state",
    "default_lifetime": "defaultLifetimeInMinutes",
    "default_length": "defaultLength",
    "minimum_lifetime": "minimumLifetimeInMinutes",
    "maximum_lifetime": "maximumLifetimeInMinutes",
    "is_usable_once": "isUsableOnce",
    "include_targets": "includeTargets",
    "exclude_targets": "excludeTargets",
}


def configuration_id(text: str) -> str:
    """The canonical id of a method configuration; Graph matches it case-insensitively."""
    found = CONFIGURATION_IDS.get(text.casefold())
    if found is None:
        raise NotFound(
            f"No authentication method configuration with id '{text}' exists.", kind="configuration"
        )
    return found


def _graph_value(name: str, value: object) -> Any:
    if isinstance(value, tuple):
        return [{"targetType": t.target_type, "id": t.id} for t in value if isinstance(t, Target)]
    return value.value if isinstance(value, PolicyState) else value


def _differences(old: TapPolicy, new: TapPolicy) -> tuple[ModifiedProperty, ...]:
    return tuple(
        ModifiedProperty(
            graph, _graph_value(name, getattr(old, name)), _graph_value(name, getattr(new, name))
        )
        for name, graph in GRAPH_NAMES.items()
        if getattr(old, name) != getattr(new, name)
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
    session: Session
    env: Env
    principal: Principal

    def _check(self, permissions: tuple[str, ...], roles: frozenset[Role], what: str) -> None:
        _check(self.principal, permissions, roles, what)

    def methods_policy(self) -> MethodsPolicy:
        self._check(READ, READ_ROLES, "read")
        tap, _ = store.load(self.session)
        stamp = store.stamp(self.session)
        return MethodsPolicy(stamp.version, stamp.last_modified, tap)

    def tap_policy(self, config_id: str = TAP) -> TapPolicy:
        self._check(READ, READ_ROLES, "read")
        configuration_id(config_id)
        tap, _ = store.load(self.session)
        return tap

    def update_tap(self, changes: TapChanges, config_id: str = TAP) -> TapPolicy:
        """Apply a PATCH; the result is validated as a whole, so a change that only makes sense
        together with another (raising the minimum above the default) needs both in one call."""
        self._check(WRITE, WRITE_ROLES, "change")
        configuration_id(config_id)
        current, _ = store.load(self.session, for_update=True)
        given = changes.given()
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
        configuration_id(config_id)
        current, _ = store.load(self.session, for_update=True)
        defaults = TapPolicy()
        self._save(current, defaults, "Authentication Methods Policy Reset")
        return defaults

    def _check_targets_exist(self, policy: TapPolicy) -> None:
        targets = (*policy.include_targets, *policy.exclude_targets)
        group_ids = {t.id for t in targets if t.target_type == "group" and t.id != ALL_USERS}
        policy.validate(known_group_ids=store.existing_group_ids(self.session, group_ids))
        user_ids = {t.id for t in targets if t.target_type == "user" and t.id != ALL_USERS}
        known_users = store.existing_user_ids(self.session, user_ids)
        for name, listed in (
            ("includeTargets", policy.include_targets),
            ("excludeTargets", policy.exclude_targets),
        ):
            for target in listed:
                if target.target_type == "user" and target.id != ALL_USERS and target.id not in known_users:
                    raise InvalidInput(f"{name}: no user with id '{target.id}' exists.")

    def _save(self, old: TapPolicy, new: TapPolicy, activity: str) -> None:
        now = self.env.clock.now()
        store.save(self.session, new, now=now)
        audit.record(
            self.session,
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
