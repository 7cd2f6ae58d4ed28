"""PolicyService: who may read and change the policy, whole-policy validation, version, audit,
and that a refused change leaves the store as it was."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy import PolicyService, TapChanges
from passbridge.passes.policy_rules import ALL_USERS, PolicyState, TapPolicy, Target
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry
from tests.factories import make_group, make_user


def delegated(
    *roles: Role, scopes: tuple[str, ...] = ("Policy.ReadWrite.AuthenticationMethod",)
) -> Principal:
    return Principal(
        kind="user",
        id="00000000-0000-4000-8000-000000000001",
        display_name="Someone",
        user_principal_name="someone@contoso.example",
        scopes=frozenset(scopes),
        roles=frozenset(roles),
    )


def application(*permissions: str) -> Principal:
    return Principal(
        kind="application", id="app", display_name="Script", app_permissions=frozenset(permissions)
    )


def state(env: Env) -> tuple[Any, ...]:
    with env.db.transaction("read") as tx:
        return (
            policy_store.load(tx),
            policy_store.stamp(tx),
            tx.session.scalar(select(func.count()).select_from(AuditEntry)),
        )


def update(
    env: Env, who: Principal, changes: TapChanges, config_id: str = "TemporaryAccessPass"
) -> TapPolicy:
    with env.db.transaction() as tx:
        return PolicyService(tx, env, who).update_tap(changes, config_id)


def test_new_tenant_has_default_policy_at_version_one(env: Env, tenant: Initialised) -> None:
    with env.db.transaction("read") as tx:
        whole = PolicyService(tx, env, operator()).methods_policy()
    assert (whole.version, whole.tap) == (1, TapPolicy())
    assert whole.last_modified == env.clock.now()


def test_update_keeps_what_it_omits_and_bumps_version(
    env: Env, tenant: Initialised, clock: ManualClock
) -> None:
    clock.advance(minutes=5)
    updated = update(env, operator(), TapChanges(default_length=20, is_usable_once=True))
    assert updated == TapPolicy(default_length=20, is_usable_once=True)
    with env.db.transaction("read") as tx:
        whole = PolicyService(tx, env, operator()).methods_policy()
    assert (whole.version, whole.tap, whole.last_modified) == (2, updated, clock.now())


def test_reset_restores_defaults_and_is_audited(env: Env, tenant: Initialised) -> None:
    update(env, operator(), TapChanges(state=PolicyState.DISABLED, maximum_lifetime=600))
    with env.db.transaction() as tx:
        assert PolicyService(tx, env, operator()).reset_tap("temporaryaccesspass") == TapPolicy()
    with env.db.transaction("read") as tx:
        assert policy_store.load(tx)[0] == TapPolicy()
        assert policy_store.stamp(tx).version == 3
        newest = tx.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        names = sorted(e.activity_display_name for e in newest if e.category == "Policy")
    assert names == ["Authentication Methods Policy Reset", "Authentication Methods Policy Update"]


def test_update_audit_entry_lists_changed_properties(env: Env, tenant: Initialised) -> None:
    update(env, operator(), TapChanges(state=PolicyState.DISABLED, default_length=8))
    with env.db.transaction("read") as tx:
        entry = tx.session.scalars(select(AuditEntry).where(AuditEntry.category == "Policy")).one()
        assert (entry.activity_display_name, entry.logged_by_service, entry.operation_type) == (
            "Authentication Methods Policy Update",
            "Authentication Methods",
            "Update",
        )
        assert entry.target_resources[0]["modifiedProperties"] == [
            {"displayName": "state", "oldValue": '"enabled"', "newValue": '"disabled"'}
        ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (TapChanges(default_length=50), "defaultLength must be between 8 and 48; got 50."),
        (
            TapChanges(minimum_lifetime=90),
            "defaultLifetimeInMinutes (60) must lie between the minimum (90) and the maximum (480).",
        ),
        (
            TapChanges(include_targets=(Target("group", "3f2f9a47-1d1b-4c55-9a39-000000000000"),)),
            "includeTargets: no group with id '3f2f9a47-1d1b-4c55-9a39-000000000000' exists.",
        ),
        (
            TapChanges(include_targets=(Target("user", "3f2f9a47-1d1b-4c55-9a39-000000000001"),)),
            "includeTargets: no user with id '3f2f9a47-1d1b-4c55-9a39-000000000001' exists.",
        ),
        (
            TapChanges(exclude_targets=(Target("group", ALL_USERS),)),
            "excludeTargets: 'all_users' can only be included, not excluded.",
        ),
    ],
)
def test_invalid_change_raises_and_leaves_store_unchanged(
    env: Env, tenant: Initialised, changes: TapChanges, message: str
) -> None:
    before = state(env)
    with pytest.raises(InvalidInput) as raised:
        update(env, operator(), changes)
    assert raised.value.message == message
    assert state(env) == before


def test_targets_may_name_groups_and_users_case_insensitively(env: Env, tenant: Initialised) -> None:
    group = make_group(env)
    person = make_user(env)
    updated = update(
        env,
        operator(),
        TapChanges(
            include_targets=(Target("group", group.id.upper()),),
            exclude_targets=(Target("user", person.id.upper()),),
        ),
    )
    assert updated.include_targets == (Target("group", group.id),)
    assert updated.exclude_targets == (Target("user", person.id),)


def test_unknown_configuration_is_not_found(env: Env, tenant: Initialised) -> None:
    with pytest.raises(NotFound) as raised:
        update(env, operator(), TapChanges(default_length=12), "Email")
    assert raised.value.kind == "configuration"


@pytest.mark.parametrize(
    "who",
    [
        delegated(Role.AUTHENTICATION_POLICY_ADMINISTRATOR),
        delegated(Role.GLOBAL_ADMINISTRATOR),
        application("Policy.ReadWrite.AuthenticationMethod"),
    ],
    ids=["auth-policy-admin", "global-admin", "app"],
)
def test_writers(env: Env, tenant: Initialised, who: Principal) -> None:
    assert update(env, who, TapChanges(default_length=9)).default_length == 9


@pytest.mark.parametrize(
    "who",
    [
        delegated(Role.GLOBAL_READER),
        delegated(Role.AUTHENTICATION_ADMINISTRATOR, Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR),
        delegated(Role.GLOBAL_ADMINISTRATOR, scopes=("Policy.Read.All",)),
        application("Policy.Read.All", "Policy.Read.AuthenticationMethod"),
    ],
    ids=["global-reader", "auth-admins", "admin-read-scope", "app-read-only"],
)
def test_non_writers_are_refused_and_nothing_changes(env: Env, tenant: Initialised, who: Principal) -> None:
    before = state(env)
    with pytest.raises(PermissionDenied):
        update(env, who, TapChanges(default_length=9))
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        PolicyService(tx, env, who).reset_tap()
    assert state(env) == before


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (delegated(Role.GLOBAL_READER, scopes=("Policy.Read.AuthenticationMethod",)), True),
        (delegated(Role.AUTHENTICATION_POLICY_ADMINISTRATOR, scopes=("Policy.Read.All",)), True),
        (delegated(Role.AUTHENTICATION_ADMINISTRATOR, scopes=("Policy.Read.All",)), False),
        (delegated(Role.GLOBAL_READER, scopes=("User.Read.All",)), False),
        (application("Policy.Read.AuthenticationMethod"), True),
        (application("AuditLog.Read.All"), False),
    ],
    ids=["reader", "policy-admin", "auth-admin", "reader-no-scope", "app", "app-no-permission"],
)
def test_readers(env: Env, tenant: Initialised, who: Principal, allowed: bool) -> None:
    with env.db.transaction("read") as tx:
        service = PolicyService(tx, env, who)
        if allowed:
            assert service.tap_policy() == TapPolicy()
        else:
            with pytest.raises(PermissionDenied):
                service.tap_policy()
