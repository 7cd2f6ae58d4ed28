"""TapService and MethodsService on a real store: storage of the pass, replacement, races, access rules."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.methods.service import MethodsService
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, PassView, TapService
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, TemporaryAccessPass, User
from tests.factories import make_user


def issue(env: Env, ref: str, request: PassRequest | None = None, who: Principal | None = None) -> IssuedPass:
    with env.db.transaction() as tx:
        return TapService(tx, env, who or operator()).issue(ref, request or PassRequest())


def stored(env: Env, user_id: str) -> list[TemporaryAccessPass]:
    with env.db.transaction("read") as tx:
        query = select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id)
        return list(tx.session.scalars(query))


def activities(env: Env) -> list[str]:
    with env.db.transaction("read") as tx:
        return list(tx.session.scalars(select(AuditEntry.activity_display_name)))


def delegated(
    user: User, *scopes: str, roles: tuple[Role, ...] = (), signed_in_at: datetime | None = None
) -> Principal:
    """A delegated caller; `signed_in_at` makes it a pass sign-in then (multi-factor), which changing
    one's own methods needs (methods/access.py)."""
    return Principal(
        kind="user",
        id=user.id,
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        scopes=frozenset(scopes),
        roles=frozenset(roles),
        amr=("tap", "mfa") if signed_in_at else (),
        auth_time=signed_in_at,
    )


def application(*permissions: str) -> Principal:
    return Principal(
        kind="application", id="app-1", display_name="HR script", app_permissions=frozenset(permissions)
    )


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, "ada@contoso.example")


def test_only_an_argon2id_hash_of_the_pass_is_stored_and_it_verifies(env: Env, ada: User) -> None:
    issued = issue(env, ada.id)
    [row] = stored(env, ada.id)
    assert row.secret_hash.startswith("$argon2id$")
    assert issued.value not in row.secret_hash
    assert env.keeper.slow_hash_matches(issued.value, row.secret_hash)
    assert not env.keeper.slow_hash_matches(issued.value + "x", row.secret_hash)


def test_issue_replaces_the_previous_pass_in_one_transaction(env: Env, ada: User) -> None:
    first = issue(env, ada.id)
    second = issue(env, "ADA@contoso.example")
    assert [r.id for r in stored(env, ada.id)] == [second.view.row.id]
    assert first.value != second.value
    assert activities(env).count("Admin deleted security info") == 1


def test_concurrent_issues_for_one_user_end_with_exactly_one_pass(env: Env, ada: User) -> None:
    racers = 4
    barrier = threading.Barrier(racers)
    failures: list[BaseException] = []
    issued: list[str] = []

    def race() -> None:
        try:
            barrier.wait(timeout=10)
            issued.append(issue(env, ada.id).view.row.id)
        except BaseException as exc:  # collected and asserted below: a thread's exception is otherwise lost
            failures.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(issued) == racers
    rows = stored(env, ada.id)
    assert len(rows) == 1 and rows[0].id in issued
    names = activities(env)
    assert names.count("Admin registered security info") == racers + 1  # + the admin's bootstrap pass
    assert names.count("Admin deleted security info") == racers - 1


def test_failed_issue_leaves_the_previous_pass_and_audit_untouched(env: Env, ada: User) -> None:
    first = issue(env, ada.id)
    before = activities(env)
    with pytest.raises(InvalidInput):
        issue(env, ada.id, PassRequest(lifetime_minutes=5))
    assert [r.id for r in stored(env, ada.id)] == [first.view.row.id]
    assert activities(env) == before


def test_revoke_without_a_pass_is_not_found(env: Env, ada: User) -> None:
    with pytest.raises(NotFound) as raised, env.db.transaction() as tx:
        TapService(tx, env, operator()).revoke(ada.id)
    assert raised.value.message == "ada@contoso.example has no Temporary Access Pass."
    assert raised.value.kind == "method"


def test_views_of_one_time_pass_after_use_read_one_time_used(env: Env, ada: User, clock: ManualClock) -> None:
    issued = issue(env, ada.id, PassRequest(is_usable_once=True))
    with env.db.transaction() as tx:
        row = tx.session.get_one(TemporaryAccessPass, issued.view.row.id)
        row.used_at = clock.now()
    with env.db.transaction("read") as tx:
        view = TapService(tx, env, operator()).get(ada.id)
    assert view is not None and view.reason.value == "OneTimeUsed" and not view.is_usable


def test_view_end_is_start_plus_lifetime(env: Env, ada: User, clock: ManualClock) -> None:
    issued = issue(env, ada.id, PassRequest(lifetime_minutes=90))
    assert issued.view.end == clock.now() + timedelta(minutes=90)


# --- access -----------------------------------------------------------------------------------


def test_application_needs_a_write_permission_to_issue(env: Env, ada: User) -> None:
    with pytest.raises(PermissionDenied):
        issue(env, ada.id, who=application("UserAuthenticationMethod.Read.All"))
    assert stored(env, ada.id) == []
    assert issue(env, ada.id, who=application("UserAuthMethod-TAP.ReadWrite.All")).value


def test_permission_is_checked_before_the_user_is_looked_up(env: Env, tenant: Initialised) -> None:
    with pytest.raises(PermissionDenied):
        issue(env, "ghost@contoso.example", who=application())


@pytest.mark.parametrize("role", list(Role))
def test_no_role_lets_a_user_issue_a_pass_for_themselves(env: Env, tenant: Initialised, role: Role) -> None:
    me = make_user(env, roles=(role.display_name,))
    with pytest.raises(PermissionDenied) as raised:
        issue(env, me.id, who=delegated(me, "UserAuthenticationMethod.ReadWrite.All", roles=(role,)))
    assert raised.value.message == "You cannot create a Temporary Access Pass for yourself."
    assert stored(env, me.id) == []


def test_authentication_administrator_cannot_delete_an_administrators_pass(
    env: Env, tenant: Initialised
) -> None:
    helpdesk = make_user(env, roles=("Authentication Administrator",))
    who = delegated(
        helpdesk, "UserAuthenticationMethod.ReadWrite.All", roles=(Role.AUTHENTICATION_ADMINISTRATOR,)
    )
    admin_pass = tenant.bootstrap_pass.view.row
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        TapService(tx, env, who).delete(tenant.admin.id, admin_pass.id)
    assert [r.id for r in stored(env, tenant.admin.id)] == [admin_pass.id]


def test_own_pass_is_readable_with_the_self_scope_and_deletable_with_the_write_scope(
    env: Env, ada: User
) -> None:
    issued = issue(env, ada.id)
    with env.db.transaction("read") as tx:
        views = TapService(tx, env, delegated(ada, "UserAuthenticationMethod.Read")).list(ada.id)
    assert [v.id for v in views] == [issued.view.row.id]
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        TapService(tx, env, delegated(ada, "UserAuthenticationMethod.Read")).delete(ada.id, issued.view.id)
    signed_in = delegated(ada, "UserAuthenticationMethod.ReadWrite", signed_in_at=env.clock.now())
    with env.db.transaction() as tx:
        TapService(tx, env, signed_in).delete(ada.id, issued.view.id)
    assert stored(env, ada.id) == []
    assert activities(env)[-1] == "User deleted security info"


def test_self_scopes_do_not_reach_other_users(env: Env, ada: User, tenant: Initialised) -> None:
    grace = make_user(env, "grace@contoso.example")
    who = delegated(ada, "UserAuthenticationMethod.ReadWrite", roles=(Role.GLOBAL_ADMINISTRATOR,))
    with pytest.raises(PermissionDenied), env.db.transaction("read") as tx:
        TapService(tx, env, who).list(grace.id)


def test_admin_delete_of_a_usable_pass_moves_sessions_valid_from(
    env: Env, ada: User, clock: ManualClock
) -> None:
    issued = issue(env, ada.id)
    clock.advance(minutes=3)
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).delete(ada.id, issued.view.id)
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, ada.id).sessions_valid_from == clock.now()


def test_owner_delete_keeps_sessions_valid_from(env: Env, ada: User, clock: ManualClock) -> None:
    issued = issue(env, ada.id)
    created = ada.sessions_valid_from
    signed_in_at = clock.now()
    clock.advance(minutes=3)
    signed_in = delegated(ada, "UserAuthenticationMethod.ReadWrite", signed_in_at=signed_in_at)
    with env.db.transaction() as tx:
        TapService(tx, env, signed_in).delete(ada.id, issued.view.id)
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, ada.id).sessions_valid_from == created


# --- every method -----------------------------------------------------------------------------


def test_methods_service_lists_the_pass_among_every_method(env: Env, ada: User) -> None:
    reader = application("UserAuthenticationMethod.Read.All")
    with env.db.transaction("read") as tx:
        assert MethodsService(tx, env, reader).list(ada.id) == []
    issued = issue(env, ada.id)
    with env.db.transaction("read") as tx:
        methods = MethodsService(tx, env, reader).list(ada.id)
        found = MethodsService(tx, env, reader).get(ada.id, issued.view.id.upper())
    assert [type(m) for m in methods] == [PassView]
    assert [m.id for m in methods] == [found.id] == [issued.view.id]


def test_methods_service_refuses_tap_only_permissions(env: Env, ada: User) -> None:
    with pytest.raises(PermissionDenied), env.db.transaction("read") as tx:
        MethodsService(tx, env, application("UserAuthMethod-TAP.Read.All")).list(ada.id)


def test_policy_change_applies_to_an_existing_pass_at_read(env: Env, ada: User) -> None:
    issue(env, ada.id, PassRequest(is_usable_once=False))
    with env.db.transaction() as tx:
        policy_store.save(tx, TapPolicy(is_usable_once=True), now=env.clock.now())
    with env.db.transaction("read") as tx:
        view = TapService(tx, env, operator()).get(ada.id)
        count = tx.session.scalar(select(func.count()).select_from(TemporaryAccessPass))
    assert view is not None and view.reason.value == "DisabledByPolicy"
    assert count == 2  # ada's and the administrator's bootstrap pass
