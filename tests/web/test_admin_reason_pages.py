"""The portal asks for a reason when issuing (required when the policy says so), and the policy page sets
requireReason."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from passbridge.store.models import TemporaryAccessPass
from tests.factories import make_user
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin, _pass_of
from tests.web.test_admin_policy_pages import POLICY_ADMIN, _tap, _tap_form


def _issue(web: TestClient, user_id: str, reason: str) -> tuple[int, str]:
    form = web.get(f"/admin/users/{user_id}/pass")
    assert form.status_code == 200
    response = web.post(
        f"/admin/users/{user_id}/pass",
        data={"csrf_token": csrf_of(form.text), "lifetime": "60", "reason": reason, "tz": "UTC"},
    )
    return response.status_code, response.text


def test_the_issue_page_takes_a_reason_and_the_policy_can_require_it(env: Env, web: TestClient) -> None:
    _admin(env, web, POLICY_ADMIN, "Authentication Administrator")
    person = make_user(env, "new.hire@contoso.example", display_name="New Hire")
    page = web.get(f"/admin/users/{person.id}/pass").text
    assert 'name="reason"' in page and "(optional)" in page
    assert "they have no mail address, so no mail goes" in page

    csrf = csrf_of(web.get("/admin/policy").text)
    saved = web.post("/admin/policy/tap", data=_tap_form(csrf, require_reason="yes"))
    assert saved.status_code == 303 and _tap(env).require_reason
    assert 'id="require_reason" name="require_reason" value="yes" checked' in web.get("/admin/policy").text

    status, text = _issue(web, person.id, "")
    assert status == 400
    assert 'id="reason-error"' in text and "The policy requires a reason for every pass" in text
    assert _pass_of(env, person.id) is None
    status, text = _issue(web, person.id, "line one\r\nline two")
    assert status == 400 and "The reason must be one line of text" in text
    assert 'value="line one' in text  # what was typed stays

    status, _ = _issue(web, person.id, "HR-77 starts Monday")
    assert status == 200
    row: TemporaryAccessPass | None = _pass_of(env, person.id)
    assert row is not None and row.reason == "HR-77 starts Monday"

    web.post("/admin/policy/tap", data=_tap_form(csrf))  # the box unticked: no longer required
    assert not _tap(env).require_reason
