"""The admin portal shows and edits what HR systems set on a user, and their manager; a bad value is a
readable message next to its field, with nothing saved."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.directory.service import DirectoryService
from passbridge.services.context import Env, operator
from passbridge.store.models import User
from tests.factories import make_user
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin

FULL = {
    "display_name": "Ada Lovelace",
    "mail": "ada@contoso.example",
    "employee_id": "E-1001",
    "employee_type": "Employee",
    "hire_date": "2027-01-04",
    "department": "Finance",
    "job_title": "Accountant",
    "company_name": "Contoso",
    "office_location": "Building 2",
    "usage_location": "gb",
    "mobile_phone": "+44 7700 900123",
    "other_mails": "ada@home.example, ada@old.example",
    "manager": "boss@contoso.example",
}


def _stored(env: Env, user_id: str) -> User:
    with env.db.transaction("read") as tx:
        return tx.session.get_one(User, user_id)


def _field_error(html: str, name: str) -> str | None:
    found = re.search(rf'<p class="message" id="{name}-error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def test_the_details_form_saves_the_hr_properties_and_manager(env: Env, web: TestClient) -> None:
    _admin(env, web, "User Administrator")
    boss = make_user(env, "boss@contoso.example", display_name="Grace Hopper")
    ada = make_user(env, "ada@contoso.example")
    csrf = csrf_of(web.get(f"/admin/users/{ada.id}").text)
    saved = web.post(f"/admin/users/{ada.id}/edit", data={"csrf_token": csrf, **FULL})
    assert saved.status_code == 303, saved.text
    stored = _stored(env, ada.id)
    assert (stored.employee_id, stored.usage_location, stored.manager_id) == ("E-1001", "GB", boss.id)
    assert stored.employee_hire_date == datetime(2027, 1, 4, tzinfo=UTC)
    assert stored.other_mails == ["ada@home.example", "ada@old.example"]
    page = web.get(saved.headers["location"]).text
    assert "The user&#39;s details were saved." in page or "The user's details were saved." in page
    for shown in ("Accountant", "Finance", "Building 2", "E-1001", "ada@home.example, ada@old.example"):
        assert shown in page
    assert f'<a href="/admin/users/{boss.id}">Grace Hopper</a>' in page
    # The form shows what is stored, ready to edit again.
    assert re.search(r'name="hire_date"\s+value="2027-01-04"', page)
    assert 'value="boss@contoso.example"' in page


def test_emptied_fields_clear_and_the_manager_goes(env: Env, web: TestClient) -> None:
    _admin(env, web, "User Administrator")
    make_user(env, "boss@contoso.example")
    ada = make_user(env, "ada@contoso.example")
    csrf = csrf_of(web.get(f"/admin/users/{ada.id}").text)
    web.post(f"/admin/users/{ada.id}/edit", data={"csrf_token": csrf, **FULL})
    cleared = {**FULL, "department": "", "hire_date": "", "other_mails": "", "manager": ""}
    assert web.post(f"/admin/users/{ada.id}/edit", data={"csrf_token": csrf, **cleared}).status_code == 303
    stored = _stored(env, ada.id)
    assert (stored.department, stored.employee_hire_date, stored.other_mails, stored.manager_id) == (
        None,
        None,
        [],
        None,
    )
    assert stored.job_title == "Accountant"


def test_a_time_of_day_set_by_a_script_survives_an_unchanged_save(env: Env, web: TestClient) -> None:
    _admin(env, web, "User Administrator")
    hired = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    with env.db.transaction() as tx:
        ada = DirectoryService(tx, env, operator()).add_user("ada@contoso.example", employee_hire_date=hired)
    csrf = csrf_of(web.get(f"/admin/users/{ada.id}").text)
    form: dict[str, Any] = {**FULL, "hire_date": "2027-01-04", "manager": ""}
    assert web.post(f"/admin/users/{ada.id}/edit", data={"csrf_token": csrf, **form}).status_code == 303
    assert _stored(env, ada.id).employee_hire_date == hired


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("usage_location", "XX", "ISO 3166-1"),
        ("employee_id", "x" * 65, "at most 64 characters"),
        ("hire_date", "4 January", "such as 2027-01-04"),
        ("other_mails", "not-an-address", "not an email address"),
        ("department", "x" * 65, "at most 64 characters"),
        ("manager", "nobody@contoso.example", "does not exist"),
        ("manager", "ada@contoso.example", "own manager"),
        ("display_name", "", "must not be empty"),
    ],
)
def test_a_bad_value_is_shown_next_to_its_field_and_nothing_is_saved(
    env: Env, web: TestClient, field: str, value: str, words: str
) -> None:
    _admin(env, web, "User Administrator")
    make_user(env, "boss@contoso.example")
    ada = make_user(env, "ada@contoso.example", display_name="Ada")
    csrf = csrf_of(web.get(f"/admin/users/{ada.id}").text)
    response = web.post(f"/admin/users/{ada.id}/edit", data={"csrf_token": csrf, **FULL, field: value})
    assert response.status_code == 400
    message = _field_error(response.text, field)
    assert message is not None and words in message, response.text
    assert "The details were not saved" in response.text
    assert f'value="{value}"' in response.text  # what was typed stays, to correct
    stored = _stored(env, ada.id)
    assert (stored.display_name, stored.department, stored.manager_id) == ("Ada", None, None)


def test_only_a_user_manager_sees_the_details_form(env: Env, web: TestClient) -> None:
    _admin(env, web, "Authentication Administrator")
    ada = make_user(env, "ada@contoso.example")
    page = web.get(f"/admin/users/{ada.id}").text
    assert 'name="employee_id"' not in page and "Manager" in page
