"""The read of a user's methods without the ORM: passes/queries.py `user_methods` on a bare connection, and
the services' reads on it (the Graph edge's path), against the same rules as the unit-of-work path."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import NotFound, PermissionDenied
from passbridge.methods.service import MethodsService
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as tap_store
from passbridge.passes import service as taps
from passbridge.passes.policy_rules import PolicyState, TapPolicy, Target
from passbridge.passes.rules import PassRequest, UsabilityReason
from passbridge.passes.service import TapService
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import TapPolicyRow, User
from tests.factories import make_group, make_user


def application(*permissions: str) -> Principal:
    return Principal(
        kind="application", id="app-1", display_name="HR script", app_permissions=frozenset(permissions)
    )


def issue(env: Env, ref: str) -> taps.IssuedPass:
    with env.db.transaction() as tx:
        return TapService(tx, env, operator()).issue(ref, PassRequest())


def save_policy(env: Env, policy: TapPolicy) -> None:
    with env.db.transaction() as tx:
        policy_store.save(tx, policy, now=env.clock.now())


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, "Ada@Contoso.example")


def test_user_methods_finds_the_user_by_id_in_any_case_and_by_upn_in_any_case(env: Env, ada: User) -> None:
    issued = issue(env, ada.id)
    with env.db.transaction("read") as tx:
        by_id = tap_store.user_methods(tx, ada.id.upper())
        by_upn = tap_store.user_methods(tx, "ADA@contoso.EXAMPLE")
    assert by_id == by_upn
    assert by_id is not None
    assert by_id.user_id == ada.id
    assert by_id.tap is not None
    assert by_id.tap.id == issued.view.id
    assert by_id.tap.user_id == ada.id
    assert by_id.tap.start_at == issued.view.row.start_at
    assert by_id.tap.lifetime_minutes == issued.view.row.lifetime_minutes


def test_user_methods_is_none_for_an_unknown_id_or_name(env: Env, ada: User) -> None:
    with env.db.transaction("read") as tx:
        assert tap_store.user_methods(tx, "00000000-0000-0000-0000-000000000000") is None
        assert tap_store.user_methods(tx, "nobody@contoso.example") is None
        assert tap_store.user_methods(tx, "") is None


def test_user_methods_without_a_pass_has_none_and_still_the_policy(env: Env, ada: User) -> None:
    save_policy(env, TapPolicy(default_length=12))
    with env.db.transaction("read") as tx:
        found = tap_store.user_methods(tx, ada.id)
    assert found is not None
    assert found.tap is None
    assert found.policy == TapPolicy(default_length=12)


def test_user_methods_reads_the_defaults_when_the_policy_was_never_saved(env: Env, ada: User) -> None:
    with env.db.transaction() as tx:
        tx.session.execute(delete(TapPolicyRow))
    with env.db.transaction("read") as tx:
        found = tap_store.user_methods(tx, ada.id)
    assert found is not None
    assert found.policy == TapPolicy()


def test_a_read_through_a_session_sees_the_units_unflushed_policy_change(env: Env, ada: User) -> None:
    issue(env, ada.id)
    with env.db.transaction() as tx:
        policy_store.save(tx, TapPolicy(state=PolicyState.DISABLED), now=env.clock.now())
        views = taps.list_passes(tx, env, operator(), ada.id)
    assert [v.reason for v in views] == [UsabilityReason.DISABLED_BY_POLICY]


def test_group_targeting_reads_memberships_on_the_bare_connection(env: Env, ada: User) -> None:
    issue(env, ada.id)
    grace = make_user(env, "grace@contoso.example")
    issue(env, grace.id)
    group = make_group(env, "Pilot", members=(ada.id,))
    save_policy(env, TapPolicy(include_targets=(Target("group", group.id),)))
    reader = application("UserAuthenticationMethod.Read.All")
    with env.db.transaction("read") as tx:
        ada_views = MethodsService(tx, env, reader).list(ada.id)
        grace_views = MethodsService(tx, env, reader).list(grace.id)
    assert [v.reason for v in ada_views if isinstance(v, taps.PassView)] == [
        UsabilityReason.ENABLED_BY_POLICY
    ]
    assert [v.reason for v in grace_views if isinstance(v, taps.PassView)] == [
        UsabilityReason.DISABLED_BY_POLICY
    ]


def test_a_caller_without_permission_is_refused_before_learning_whether_the_user_exists(
    env: Env, ada: User
) -> None:
    nobody = application("User.Read.All")
    with env.db.transaction("read") as tx:
        with pytest.raises(PermissionDenied):
            MethodsService(tx, env, nobody).list("00000000-0000-0000-0000-000000000000")
        with pytest.raises(PermissionDenied):
            taps.get_pass(tx, env, nobody, "nobody@contoso.example", "x")


def test_an_unknown_user_is_not_found_for_a_permitted_caller(env: Env, ada: User) -> None:
    with env.db.transaction("read") as tx, pytest.raises(NotFound) as raised:
        MethodsService(tx, env, application("UserAuthenticationMethod.Read.All")).list(
            "nobody@contoso.example"
        )
    assert raised.value.kind == "user"


def test_get_pass_on_the_bare_connection_matches_the_id_in_any_case(env: Env, ada: User) -> None:
    issued = issue(env, ada.id)
    with env.db.transaction("read") as tx:
        view = taps.get_pass(tx, env, operator(), ada.id, issued.view.id.upper())
        with pytest.raises(NotFound):
            taps.get_pass(tx, env, operator(), ada.id, "00000000-0000-0000-0000-000000000000")
    assert view.id == issued.view.id
