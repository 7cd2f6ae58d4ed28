"""The admin portal's pages: who may enter, and the same role rules as Graph on every page and action."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised
from passbridge.passes.rules import DIGITS, LOWER, UPPER
from passbridge.security import otp
from passbridge.services.context import Env, operator
from passbridge.store.models import AuditEntry, TemporaryAccessPass
from tests.factories import make_authenticator_app, make_user
from tests.web.conftest import browser, csrf_of, issue, sign_in

PAA = "Privileged Authentication Administrator"
AA = "Authentication Administrator"
PASS_VALUE = re.compile(r'data-pass="([^"]+)"')


def _signed_in(env: Env, client: TestClient, upn: str) -> None:
    steps = sign_in(client, upn, issue(env, upn).value)
    assert steps.proved.status_code == 303, steps.proved.text


def _admin(env: Env, client: TestClient, *roles: str, upn: str = "helpdesk@contoso.example") -> str:
    user = make_user(env, upn, display_name="Help Desk", roles=roles)
    _signed_in(env, client, user.user_principal_name)
    return user.id


def _pass_of(env: Env, user_id: str) -> TemporaryAccessPass | None:
    with env.db.transaction("read") as tx:
        return tx.session.scalars(
            select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == user_id)
        ).first()


def _issue_form(client: TestClient, user_id: str) -> str:
    form = client.get(f"/admin/users/{user_id}/pass")
    assert form.status_code == 200, form.text
    return csrf_of(form.text)


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(web: TestClient) -> None:
    response = web.get("/admin/users")
    assert (response.status_code, response.headers["location"]) == (303, "/login?return_to=/admin/users")


def test_a_person_without_an_administrator_role_is_refused(env: Env, web: TestClient) -> None:
    make_user(env, "ada@contoso.example")
    _signed_in(env, web, "ada@contoso.example")
    response = web.get("/admin/users")
    assert response.status_code == 403
    assert "for administrators" in response.text
    assert 'href="/admin"' not in web.get("/apps").text


def test_an_administrator_finds_the_portal_on_my_apps_and_in_the_top_bar(env: Env, web: TestClient) -> None:
    _admin(env, web, AA)
    apps = web.get("/apps").text
    assert apps.count('href="/admin"') == 2  # the top bar's entry and the tile


def test_an_administrator_signed_in_with_one_factor_is_asked_to_sign_in_again(
    env: Env, web: TestClient, tenant: Initialised
) -> None:
    admin = make_user(env, "codes@contoso.example", roles=(PAA,))
    app = make_authenticator_app(env, admin)
    seed = env.keeper.unseal(app.secret_sealed, f"totp-seed|{admin.id}".encode()).decode()
    login = web.get("/login")
    web.post("/login", data={"csrf_token": csrf_of(login.text), "username": admin.user_principal_name})
    code_page = web.get("/login/code")
    proved = web.post(
        "/login/code",
        data={"csrf_token": csrf_of(code_page.text), "code": otp.code_at(seed, env.clock.now())},
    )
    assert proved.status_code == 303, proved.text
    response = web.get("/admin/users")
    assert response.status_code == 403
    assert "multi-factor sign-in" in response.text
    assert 'href="/login?return_to=/admin/users"' in response.text


def test_users_are_found_by_the_start_of_their_name_sign_in_name_or_email(env: Env, web: TestClient) -> None:
    _admin(env, web, AA)
    make_user(env, "kim.akers@contoso.example", display_name="Kim Akers")
    kimberly = make_user(env, "kimberly@contoso.example", display_name="Kimberly Dale")
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).update_user(kimberly.id, mail="kim.personal@fabrikam.example")
    make_user(env, "adele@contoso.example", display_name="Adele Vance")
    by_name = web.get("/admin/users", params={"q": "kim"}).text
    assert "Kim Akers" in by_name and "Kimberly Dale" in by_name and "Adele Vance" not in by_name
    by_upn = web.get("/admin/users", params={"q": "adele@"}).text
    assert "Adele Vance" in by_upn and "Kim Akers" not in by_upn
    by_mail = web.get("/admin/users", params={"q": "kim.personal@"}).text
    assert "Kimberly Dale" in by_mail and "Kim Akers" not in by_mail
    nobody = web.get("/admin/users", params={"q": "zz"}).text
    assert "starts with “zz”" in nobody


def test_a_privileged_authentication_administrator_issues_a_pass_that_signs_the_user_in(
    env: Env, web: TestClient
) -> None:
    admin_id = _admin(env, web, PAA)
    target = make_user(env, "new.hire@contoso.example", display_name="New Hire")
    csrf = _issue_form(web, target.id)
    issued = web.post(
        f"/admin/users/{target.id}/pass",
        data={"csrf_token": csrf, "lifetime": "120", "start": "", "once": "yes", "tz": "Europe/Paris"},
    )
    assert issued.status_code == 200, issued.text
    value = unescape(PASS_VALUE.search(issued.text).group(1))  # type: ignore[union-attr]
    assert 'aria-label="Temporary Access Pass"' in issued.text
    assert "Europe/Paris" in issued.text and "UTC" in issued.text
    assert issued.headers["cache-control"] == "no-store"
    # Read aloud easily: no look-alike characters and no symbols (the alphabet of passes/rules.py).
    assert set(value) <= set(UPPER + LOWER + DIGITS)
    row = _pass_of(env, target.id)
    assert row is not None and row.is_usable_once and row.lifetime_minutes == 120
    with browser(env) as other:
        assert sign_in(other, target.user_principal_name, value).proved.status_code == 303
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(
            select(AuditEntry).where(AuditEntry.activity_display_name == "Admin registered security info")
        ).all()
    [entry] = [e for e in entries if e.target_resources[0]["id"] == target.id]
    assert entry.initiated_by["user"]["id"] == admin_id
    assert value not in str(entry.initiated_by) + str(entry.additional_details) + str(entry.target_resources)


def test_a_bad_lifetime_is_explained_next_to_the_field_and_nothing_is_issued(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, PAA)
    target = make_user(env, "bad.lifetime@contoso.example")
    csrf = _issue_form(web, target.id)
    for lifetime, words in (("5", "valid range between 60 and 480"), ("ten", "whole number of minutes")):
        response = web.post(f"/admin/users/{target.id}/pass", data={"csrf_token": csrf, "lifetime": lifetime})
        assert response.status_code == 400
        assert 'id="lifetime-error"' in response.text and words in response.text
        assert f'value="{lifetime}"' in response.text  # what was typed stays
    assert _pass_of(env, target.id) is None


def test_an_authentication_administrator_cannot_issue_for_an_administrator(env: Env, web: TestClient) -> None:
    _admin(env, web, AA)
    target = make_user(env, "other.admin@contoso.example", roles=("Global Reader",))
    page = web.get(f"/admin/users/{target.id}")
    assert page.status_code == 200
    assert f"/admin/users/{target.id}/pass" not in page.text
    assert "Privileged Authentication Administrator can" in page.text
    csrf = csrf_of(page.text)
    refused = web.post(f"/admin/users/{target.id}/pass", data={"csrf_token": csrf, "lifetime": "60"})
    assert refused.status_code == 400
    assert "cannot manage the authentication methods of users who hold an administrator role" in refused.text
    assert _pass_of(env, target.id) is None


def test_an_authentication_administrator_issues_for_a_member(env: Env, web: TestClient) -> None:
    _admin(env, web, AA)
    target = make_user(env, "member@contoso.example")
    csrf = _issue_form(web, target.id)
    assert web.post(f"/admin/users/{target.id}/pass", data={"csrf_token": csrf}).status_code == 200
    assert _pass_of(env, target.id) is not None


def test_a_global_reader_sees_methods_but_no_action_and_no_pass(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    target = make_user(env, "holder@contoso.example")
    issue(env, target.user_principal_name)
    page = web.get(f"/admin/users/{target.id}")
    assert page.status_code == 200 and "Temporary Access Pass" in page.text
    # The only form on the page is the top bar's sign-out.
    assert page.text.count("<form") == 1 and 'action="/logout"' in page.text
    assert "data-pass" not in page.text
    before = _pass_of(env, target.id)
    assert before is not None
    csrf = csrf_of(page.text)
    refused = web.post(f"/admin/users/{target.id}/pass", data={"csrf_token": csrf})
    assert "data-pass" not in refused.text
    after = _pass_of(env, target.id)
    assert after is not None and after.id == before.id
    deleted = web.post(f"/admin/users/{target.id}/methods/{before.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 400 and _pass_of(env, target.id) is not None


def test_nobody_issues_a_pass_for_themselves(env: Env, web: TestClient) -> None:
    me = _admin(env, web, PAA)
    page = web.get(f"/admin/users/{me}")
    assert f"/admin/users/{me}/pass" not in page.text and "Security info" in page.text
    refused = web.post(f"/admin/users/{me}/pass", data={"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 400 and "yourself" in refused.text


def test_a_post_without_this_sessions_token_changes_nothing(env: Env, web: TestClient) -> None:
    _admin(env, web, PAA, "User Administrator")
    target = make_user(env, "victim@contoso.example")
    for path in (f"/admin/users/{target.id}/pass", f"/admin/users/{target.id}/disable"):
        response = web.post(path, data={"csrf_token": "forged"})
        assert response.status_code == 400 and "nothing was changed" in response.text
    assert _pass_of(env, target.id) is None
    assert "Enabled" in web.get(f"/admin/users/{target.id}").text


def test_a_user_administrator_creates_a_user_and_a_duplicate_is_explained(env: Env, web: TestClient) -> None:
    _admin(env, web, "User Administrator")
    csrf = csrf_of(web.get("/admin/users/new").text)
    created = web.post(
        "/admin/users/new",
        data={"csrf_token": csrf, "upn": "grace@contoso.example", "display_name": "Grace Hopper", "mail": ""},
    )
    assert created.status_code == 303 and created.headers["location"].endswith("?done=created")
    assert "Grace Hopper" in web.get(created.headers["location"]).text
    again = web.post(
        "/admin/users/new",
        data={"csrf_token": csrf, "upn": "grace@contoso.example", "display_name": "Grace Again", "mail": ""},
    )
    assert again.status_code == 400
    assert 'id="upn-error"' in again.text and 'value="Grace Again"' in again.text


def test_disabling_an_account_ends_its_sessions_and_is_audited_with_the_actor(
    env: Env, web: TestClient
) -> None:
    admin_id = _admin(env, web, "User Administrator")
    target = make_user(env, "leaver@contoso.example")
    with browser(env) as theirs:
        _signed_in(env, theirs, target.user_principal_name)
        csrf = csrf_of(web.get(f"/admin/users/{target.id}").text)
        done = web.post(f"/admin/users/{target.id}/disable", data={"csrf_token": csrf})
        assert done.status_code == 303
        assert theirs.get("/apps").status_code == 303  # signed out: sent to sign in
    assert "Disabled" in web.get(done.headers["location"]).text
    with env.db.transaction("read") as tx:
        entry = tx.session.scalars(
            select(AuditEntry).where(AuditEntry.activity_display_name == "Disable account")
        ).one()
    assert entry.initiated_by["user"]["id"] == admin_id


@pytest.mark.parametrize(
    "path", ["/admin/users/00000000-0000-0000-0000-000000000000", "/admin/users/nobody@x"]
)
def test_an_unknown_user_is_a_readable_404(env: Env, web: TestClient, path: str) -> None:
    _admin(env, web, AA)
    response = web.get(path)
    assert response.status_code == 404 and "No such user" in response.text


def test_the_user_list_pages_by_sign_in_name_and_every_user_appears_once(env: Env, web: TestClient) -> None:
    _admin(env, web, AA)
    for i in range(30):
        make_user(env, f"person{i:02d}@contoso.example", display_name=f"Person {i:02d}")
    seen: list[str] = []
    url: str | None = "/admin/users?q=person"
    while url is not None:
        html = web.get(url).text
        seen += re.findall(r">(person\d\d@contoso\.example)<", html)
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = unescape(found.group(1)) if found else None
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 30


def test_a_user_administrator_edits_details_and_group_membership(env: Env, web: TestClient) -> None:
    from tests.factories import make_group

    _admin(env, web, "User Administrator")
    target = make_user(env, "renamed@contoso.example", display_name="Old Name")
    pilot = make_group(env, "Pilot")
    csrf = csrf_of(web.get(f"/admin/users/{target.id}").text)
    saved = web.post(
        f"/admin/users/{target.id}/edit",
        data={"csrf_token": csrf, "display_name": "New Name", "mail": "new@contoso.example"},
    )
    assert saved.status_code == 303
    added = web.post(f"/admin/users/{target.id}/groups/add", data={"csrf_token": csrf, "group": pilot.id})
    assert added.status_code == 303
    page = web.get(added.headers["location"]).text
    assert "New Name" in page and "new@contoso.example" in page and 'aria-label="Remove from Pilot"' in page
    empty = web.post(
        f"/admin/users/{target.id}/edit", data={"csrf_token": csrf, "display_name": "", "mail": ""}
    )
    assert empty.status_code == 400 and "New Name" in empty.text  # refused, nothing changed
    removed = web.post(
        f"/admin/users/{target.id}/groups/remove", data={"csrf_token": csrf, "group": pilot.id}
    )
    assert removed.status_code == 303
    assert 'aria-label="Remove from Pilot"' not in web.get(removed.headers["location"]).text


def test_a_global_administrator_assigns_and_removes_roles_but_never_their_own_global_administrator(
    env: Env, web: TestClient
) -> None:
    me = _admin(env, web, "Global Administrator")
    target = make_user(env, "promoted@contoso.example")
    page = web.get(f"/admin/users/{target.id}")
    csrf = csrf_of(page.text)
    aa = "c4e39bd9-1100-46d3-8c65-fb160da0071f"  # Authentication Administrator
    assert (
        web.post(f"/admin/users/{target.id}/roles/add", data={"csrf_token": csrf, "role": aa}).status_code
        == 303
    )
    assert (
        'aria-label="Remove the role Authentication Administrator"'
        in web.get(f"/admin/users/{target.id}").text
    )
    removed = web.post(f"/admin/users/{target.id}/roles/remove", data={"csrf_token": csrf, "role": aa})
    assert removed.status_code == 303
    ga = "62e90394-69f5-4237-9190-012177145e10"
    own = web.post(f"/admin/users/{me}/roles/remove", data={"csrf_token": csrf, "role": ga})
    assert own.status_code == 400 and "your own Global Administrator role" in own.text
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(select(AuditEntry).where(AuditEntry.category == "RoleManagement")).all()
    mine = [e.activity_display_name for e in entries if (e.initiated_by.get("user") or {}).get("id") == me]
    assert sorted(mine) == ["Add member to role", "Remove member from role"]


def test_only_a_global_administrator_is_offered_roles(env: Env, web: TestClient) -> None:
    _admin(env, web, "Privileged Authentication Administrator", "User Administrator")
    target = make_user(env, "plain@contoso.example")
    page = web.get(f"/admin/users/{target.id}")
    assert "Assign role" not in page.text and "A Global Administrator assigns roles." in page.text
    refused = web.post(
        f"/admin/users/{target.id}/roles/add",
        data={"csrf_token": csrf_of(page.text), "role": "Global Administrator"},
    )
    assert refused.status_code == 400 and "needs the Global Administrator role" in refused.text
