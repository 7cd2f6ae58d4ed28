"""HR's properties and the manager through DirectoryService, on both databases: set, cleared, filtered,
audited; cycles refused; a disabled account loses sessions, refresh tokens and pass; a deleted user's
methods and pass go with them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from passbridge.directory.queries import Condition
from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, Principal, operator
from passbridge.store.models import (
    AuditEntry,
    Fido2Credential,
    SoftwareOathMethod,
    TemporaryAccessPass,
    User,
)
from tests.api.passwordless_helpers import open_session, session_state
from tests.factories import make_app, make_authenticator_app, make_passkey, make_user

HIRED = datetime(2027, 1, 4, tzinfo=UTC)
HR: dict[str, Any] = {
    "employee_id": "E-1001",
    "employee_type": "Employee",
    "employee_hire_date": HIRED,
    "department": "Finance",
    "job_title": "Accountant",
    "company_name": "Contoso",
    "office_location": "Building 2",
    "usage_location": "gb",
    "mobile_phone": "+44 7700 900123",
    "other_mails": ["ada@home.example"],
    "external_id": "hr-77",
}


def _audits(env: Env, activity: str) -> list[AuditEntry]:
    with env.db.transaction("read") as tx:
        query = select(AuditEntry).where(AuditEntry.activity_display_name == activity)
        return list(tx.session.scalars(query))


def _changed(entry: AuditEntry) -> dict[str, tuple[str, str]]:
    props = entry.target_resources[0]["modifiedProperties"]
    return {p["displayName"]: (p["oldValue"], p["newValue"]) for p in props}


def _add(env: Env, upn: str, **values: Any) -> User:
    with env.db.transaction() as tx:
        return DirectoryService(tx, env, operator()).add_user(upn, **values)


def _update(env: Env, ref: str, **values: Any) -> User:
    with env.db.transaction() as tx:
        return DirectoryService(tx, env, operator()).update_user(ref, **values)


def _set_manager(env: Env, ref: str, manager: str | None, principal: Principal | None = None) -> User:
    with env.db.transaction() as tx:
        return DirectoryService(tx, env, principal or operator()).set_manager(ref, manager)


def test_hr_properties_set_on_add_are_stored_checked_and_audited(env: Env, tenant: Initialised) -> None:
    user = _add(env, "ada@contoso.example", **HR)
    with env.db.transaction("read") as tx:
        stored = tx.session.get_one(User, user.id)
        assert (stored.employee_id, stored.usage_location) == ("E-1001", "GB")
        assert stored.employee_hire_date == HIRED
        assert stored.other_mails == ["ada@home.example"] and stored.external_id == "hr-77"
    (entry,) = [e for e in _audits(env, "Add user") if e.target_resources[0]["id"] == user.id]
    changed = _changed(entry)
    assert changed["EmployeeHireDate"] == ("null", '"2027-01-04T00:00:00Z"')
    assert changed["Department"] == ("null", '"Finance"')
    assert set(changed) == {
        "EmployeeId", "EmployeeType", "EmployeeHireDate", "Department", "JobTitle", "CompanyName",
        "OfficeLocation", "UsageLocation", "MobilePhone", "OtherMails", "ExternalId",
    }  # fmt: skip


def test_a_user_added_without_hr_properties_has_none(env: Env, tenant: Initialised) -> None:
    user = _add(env, "plain@contoso.example")
    assert user.other_mails == [] and user.department is None and user.manager_id is None


def test_update_changes_clears_and_audits_only_what_changed(env: Env, tenant: Initialised) -> None:
    user = _add(env, "ada@contoso.example", **HR)
    _update(env, user.id, department="Treasury", job_title=None, employee_id="E-1001", other_mails=None)
    with env.db.transaction("read") as tx:
        stored = tx.session.get_one(User, user.id)
        assert (stored.department, stored.job_title, stored.other_mails) == ("Treasury", None, [])
        assert stored.employee_id == "E-1001" and stored.company_name == "Contoso"
    (entry,) = _audits(env, "Update user")
    changed = _changed(entry)
    assert changed == {
        "Department": ('"Finance"', '"Treasury"'),
        "JobTitle": ('"Accountant"', "null"),
        "OtherMails": ('["ada@home.example"]', "[]"),
    }


def test_a_refused_value_changes_nothing(env: Env, tenant: Initialised) -> None:
    user = _add(env, "ada@contoso.example", department="Finance")
    with pytest.raises(InvalidInput, match="usageLocation"):
        _update(env, user.id, department="Treasury", usage_location="XX")
    with pytest.raises(InvalidInput, match="employeeId must be at most 64"):
        _add(env, "bob@contoso.example", employee_id="x" * 65)
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, user.id).department == "Finance"
        assert tx.session.scalar(select(func.count()).select_from(User)) == 2  # admin and Ada


def _found(env: Env, *conditions: Condition) -> list[str]:
    with env.db.transaction("read") as tx:
        found = DirectoryService(tx, env, operator()).search_users(conditions, after=None, limit=50)
        return [u.user_principal_name for u in found.items]


def test_hr_filters_compare_case_insensitively_and_by_prefix(env: Env, tenant: Initialised) -> None:
    _add(env, "ada@contoso.example", department="Finance", employee_id="E-1", usage_location="GB")
    _add(env, "bob@contoso.example", department="finance ops", employee_id="E-2", usage_location="US")
    _add(env, "cy@contoso.example", department="Sales")
    assert _found(env, Condition("department", "eq", "FINANCE")) == ["ada@contoso.example"]
    assert _found(env, Condition("department", "startswith", "fin")) == [
        "ada@contoso.example",
        "bob@contoso.example",
    ]
    assert _found(env, Condition("usageLocation", "eq", "us")) == ["bob@contoso.example"]
    assert _found(env, Condition("employeeId", "eq", None)) == ["admin@contoso.example", "cy@contoso.example"]
    both = (Condition("department", "startswith", "fin"), Condition("employeeId", "eq", "e-2"))
    assert _found(env, *both) == ["bob@contoso.example"]


def test_hire_date_filters_compare_instants(env: Env, tenant: Initialised) -> None:
    _add(env, "early@contoso.example", employee_hire_date=datetime(2026, 12, 1, tzinfo=UTC))
    _add(env, "hired@contoso.example", employee_hire_date=HIRED)
    _add(env, "late@contoso.example", employee_hire_date=datetime(2027, 3, 1, tzinfo=UTC))
    assert _found(env, Condition("employeeHireDate", "eq", HIRED)) == ["hired@contoso.example"]
    assert _found(env, Condition("employeeHireDate", "ge", HIRED)) == [
        "hired@contoso.example",
        "late@contoso.example",
    ]
    assert _found(env, Condition("employeeHireDate", "le", HIRED)) == [
        "early@contoso.example",
        "hired@contoso.example",
    ]
    window = (Condition("employeeHireDate", "ge", HIRED), Condition("employeeHireDate", "le", HIRED))
    assert _found(env, *window) == ["hired@contoso.example"]


# --- the manager -------------------------------------------------------------------------------


def test_set_manager_is_read_back_with_direct_reports_and_audited(env: Env, tenant: Initialised) -> None:
    boss, ada, bob = (make_user(env, f"{n}@contoso.example") for n in ("boss", "ada", "bob"))
    _set_manager(env, ada.id, boss.user_principal_name)
    _set_manager(env, bob.id, boss.id)
    with env.db.transaction("read") as tx:
        directory = DirectoryService(tx, env, operator())
        manager = directory.get_manager(ada.id)
        assert manager is not None and manager.id == boss.id
        reports = directory.direct_reports(boss.id, after=None, limit=1)
        assert [u.id for u in reports.items] == [ada.id] and reports.next_after is not None
        rest = directory.direct_reports(boss.id, after=reports.next_after, limit=1)
        assert [u.id for u in rest.items] == [bob.id] and rest.next_after is None
    entries = _audits(env, "Set manager")
    assert len(entries) == 2
    assert [t["id"] for t in entries[0].target_resources] in ([ada.id, boss.id], [bob.id, boss.id])


def test_setting_the_same_manager_again_changes_and_audits_nothing(env: Env, tenant: Initialised) -> None:
    boss, ada = make_user(env), make_user(env)
    _set_manager(env, ada.id, boss.id)
    _set_manager(env, ada.id, boss.id)
    assert len(_audits(env, "Set manager")) == 1


def test_removing_the_manager_is_audited_once(env: Env, tenant: Initialised) -> None:
    boss, ada = make_user(env), make_user(env)
    _set_manager(env, ada.id, boss.id)
    _set_manager(env, ada.id, None)
    _set_manager(env, ada.id, None)
    with env.db.transaction("read") as tx:
        assert DirectoryService(tx, env, operator()).get_manager(ada.id) is None
    assert len(_audits(env, "Remove manager")) == 1


def test_a_user_cannot_manage_themselves_or_someone_above_them(env: Env, tenant: Initialised) -> None:
    top, middle, bottom = make_user(env), make_user(env), make_user(env)
    _set_manager(env, middle.id, top.id)
    _set_manager(env, bottom.id, middle.id)
    with pytest.raises(InvalidInput, match="own manager"):
        _set_manager(env, top.id, top.id)
    with pytest.raises(InvalidInput, match="cycle"):
        _set_manager(env, top.id, bottom.id)
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, top.id).manager_id is None


def test_an_unknown_manager_is_not_found(env: Env, tenant: Initialised) -> None:
    ada = make_user(env)
    with pytest.raises(NotFound):
        _set_manager(env, ada.id, "nobody@contoso.example")


def test_deleting_a_manager_leaves_their_reports_without_one(env: Env, tenant: Initialised) -> None:
    boss, ada = make_user(env), make_user(env)
    _set_manager(env, ada.id, boss.id)
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).delete_user(boss.id)
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, ada.id).manager_id is None


def test_setting_a_manager_needs_user_write_permission(env: Env, tenant: Initialised) -> None:
    boss, ada = make_user(env), make_user(env)
    app = make_app(env, permissions=("User.Read.All",)).application
    reader = Principal(
        kind="application",
        id=app.id,
        display_name=app.display_name,
        app_id=app.app_id,
        app_permissions=frozenset(app.permissions),
    )
    with pytest.raises(PermissionDenied):
        _set_manager(env, ada.id, boss.id, reader)
    with env.db.transaction("read") as tx:
        assert DirectoryService(tx, env, reader).get_manager(ada.id) is None


# --- disabling and deleting --------------------------------------------------------------------


def _issue_pass(env: Env, user: User) -> None:
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).issue(user.id, PassRequest())


def _pass_count(env: Env, user: User) -> int:
    with env.db.transaction("read") as tx:
        query = select(func.count()).where(TemporaryAccessPass.user_id == user.id)
        return int(tx.session.scalar(query) or 0)


@pytest.mark.parametrize("how", ["update_user", "set_account_enabled"])
def test_disabling_ends_sessions_refresh_tokens_and_pass_at_once(
    env: Env, tenant: Initialised, how: str
) -> None:
    user = make_user(env)
    _issue_pass(env, user)
    session_id, token_id = open_session(env, user)
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        if how == "update_user":
            directory.update_user(user.id, account_enabled=False)
        else:
            directory.set_account_enabled(user.id, False)
    ended, revoked = session_state(env, session_id, token_id)
    assert ended is not None and revoked is not None
    assert _pass_count(env, user) == 0
    deleted = _audits(env, "Admin deleted security info")
    assert [e.target_resources[0]["id"] for e in deleted] == [user.id]
    assert "the account was disabled" in deleted[0].result_reason
    # Enabling the account again brings nothing back.
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).set_account_enabled(user.id, True)
    assert _pass_count(env, user) == 0


def test_deleting_a_user_removes_their_methods_and_pass(env: Env, tenant: Initialised) -> None:
    user, other = make_user(env), make_user(env)
    for someone in (user, other):
        _issue_pass(env, someone)
        make_passkey(env, someone)
        make_authenticator_app(env, someone)
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).delete_user(user.id)
    with env.db.transaction("read") as tx:
        for model in (TemporaryAccessPass, Fido2Credential, SoftwareOathMethod):
            owners = set(tx.session.scalars(select(model.user_id)))  # type: ignore[attr-defined]
            assert user.id not in owners and other.id in owners, model
