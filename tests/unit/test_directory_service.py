"""Directory services against a real database: rules, audit in the same transaction, rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from passbridge.directory.rules import Role
from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised, initialise
from passbridge.domain.errors import AlreadyInitialised, Conflict, InvalidInput, NotFound, PermissionDenied
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import AuditEntry, GroupMember, TemporaryAccessPass, User
from tests.factories import make_app, make_group, make_user


def count(env: Env, model: type) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def test_init_creates_admin_with_global_administrator_role_and_one_time_pass(
    env: Env, tenant: Initialised
) -> None:
    with env.db.transaction("read") as tx:
        directory = DirectoryService(tx, env, operator())
        admin = directory.find_user("ADMIN@contoso.example")
        assert directory.roles_of(admin) == [Role.GLOBAL_ADMINISTRATOR]
        stored = tx.session.scalars(select(TemporaryAccessPass)).one()
    assert stored.user_id == admin.id and stored.is_usable_once
    assert tenant.bootstrap_pass.view.is_usable
    assert tenant.bootstrap_pass.value not in stored.secret_hash
    assert tenant.sign_in_url == "http://localhost:8000/login"


def test_second_init_refused_and_changes_nothing(env: Env, tenant: Initialised) -> None:
    before = (count(env, User), count(env, AuditEntry), count(env, TemporaryAccessPass))
    with pytest.raises(AlreadyInitialised), env.db.transaction() as tx:
        initialise(tx, env, operator(), admin_upn="other@contoso.example", tenant_name="Other")
    assert (count(env, User), count(env, AuditEntry), count(env, TemporaryAccessPass)) == before


def test_duplicate_upn_refused_in_any_case_and_store_unchanged(env: Env, tenant: Initialised) -> None:
    make_user(env, "Jo.Doe@contoso.example")
    before = (count(env, User), count(env, AuditEntry))
    with pytest.raises(Conflict):
        make_user(env, "jo.doe@CONTOSO.example")
    assert (count(env, User), count(env, AuditEntry)) == before


def test_malformed_upn_refused(env: Env, tenant: Initialised) -> None:
    with pytest.raises(InvalidInput):
        make_user(env, "no-at-sign")
    assert count(env, User) == 1


def test_user_found_by_id_or_upn_case_insensitively(env: Env, tenant: Initialised) -> None:
    user = make_user(env, "Kim@contoso.example")
    with env.db.transaction("read") as tx:
        directory = DirectoryService(tx, env, operator())
        assert directory.find_user(user.id).id == user.id
        assert directory.find_user(user.id.upper()).id == user.id
        assert directory.find_user("kim@CONTOSO.EXAMPLE").id == user.id
        with pytest.raises(NotFound):
            directory.find_user("nobody@contoso.example")


def test_every_write_is_audited_in_the_same_transaction(env: Env, tenant: Initialised) -> None:
    before = count(env, AuditEntry)
    user = make_user(env, "audited@contoso.example")
    group = make_group(env, "Auditors", members=(user.id,))
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(select(AuditEntry).order_by(AuditEntry.activity_date_time)).all()
        activities = [e.activity_display_name for e in entries][before:]
    assert activities == ["Add user", "Add group", "Add member to group"]
    assert group.display_name == "Auditors"


def test_failed_write_leaves_no_audit_entry(env: Env, tenant: Initialised) -> None:
    user = make_user(env)
    group = make_group(env, members=(user.id,))
    before = (count(env, AuditEntry), count(env, GroupMember))
    with pytest.raises(Conflict), env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).add_member(group.id, user.id)
    assert (count(env, AuditEntry), count(env, GroupMember)) == before


def test_deleting_a_user_removes_memberships_roles_and_pass(env: Env, tenant: Initialised) -> None:
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).delete_user(tenant.admin.id)
    assert count(env, TemporaryAccessPass) == 0
    with env.db.transaction("read") as tx:
        assert tx.session.get(User, tenant.admin.id) is None


def test_disabling_a_user_voids_earlier_sessions(env: Env, tenant: Initialised, clock) -> None:  # type: ignore[no-untyped-def]
    user = make_user(env)
    clock.advance(minutes=5)
    with env.db.transaction() as tx:
        disabled = DirectoryService(tx, env, operator()).set_account_enabled(user.id, False)
    assert not disabled.account_enabled
    assert disabled.sessions_valid_from == clock.now()


def test_group_named_ambiguously_must_be_given_by_id(env: Env, tenant: Initialised) -> None:
    make_group(env, "Twins")
    make_group(env, "twins")
    with pytest.raises(InvalidInput), env.db.transaction("read") as tx:
        DirectoryService(tx, env, operator()).find_group("Twins")


def test_unique_group_names_enforced_when_asked(env: Env, tenant: Initialised) -> None:
    make_group(env, "Helpdesk")
    with pytest.raises(Conflict), env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).add_group("HELPDESK", unique_name=True)


def test_role_assignment_unknown_role_and_duplicate_refused(env: Env, tenant: Initialised) -> None:
    user = make_user(env, roles=("Authentication Administrator",))
    with pytest.raises(NotFound), env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).assign_role("Chief Wizard", user.id)
    with pytest.raises(Conflict), env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).assign_role("authentication-administrator", user.id)


def test_application_without_permission_cannot_add_users(env: Env, tenant: Initialised) -> None:
    app = make_app(env, permissions=("User.Read.All",)).application
    caller = Principal(
        kind="application",
        id=app.id,
        display_name=app.display_name,
        app_id=app.app_id,
        app_permissions=frozenset(app.permissions),
    )
    with pytest.raises(PermissionDenied), env.db.transaction() as tx:
        DirectoryService(tx, env, caller).add_user("x@contoso.example")
    with env.db.transaction("read") as tx:
        assert [u.user_principal_name for u in DirectoryService(tx, env, caller).list_users()] == [
            "admin@contoso.example"
        ]


def test_client_secret_stored_only_as_keyed_hash(env: Env, tenant: Initialised) -> None:
    created = make_app(env, permissions=("user.readwrite.all",), redirect_uris=("http://localhost:9000/cb",))
    app = created.application
    assert app.permissions == ["User.ReadWrite.All"]
    assert created.client_secret not in app.secret_hash
    assert env.keeper.keyed_hash_matches(created.client_secret, app.secret_hash)
    with pytest.raises(InvalidInput):
        make_app(env, redirect_uris=("http://evil.example/cb",))
