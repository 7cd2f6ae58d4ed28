"""The admin portal's provisioning tokens: a Global Administrator makes one and sees it once; it then
works at /scim/v2 until revoked there; others see the list without actions, or nothing."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.web.conftest import browser, csrf_of
from tests.web.test_admin_pages import _admin

TOKEN = re.compile(r'aria-label="Provisioning token" data-pass="([^"]+)"')


def test_a_global_administrator_makes_a_token_sees_it_once_and_revokes_it(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator")
    listing = web.get("/admin/provisioning")
    assert listing.status_code == 200 and "No provisioning tokens yet" in listing.text
    made = web.post("/admin/provisioning/new", data={"csrf_token": csrf_of(listing.text), "name": "Workday"})
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"].startswith("no-store")
    [token] = TOKEN.findall(made.text)
    token = unescape(token)
    assert web.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    again = web.get("/admin/provisioning")
    assert "Workday" in again.text and token not in again.text
    token_id = re.search(r'action="/admin/provisioning/([0-9a-f-]+)/revoke"', again.text)
    assert token_id is not None
    revoked = web.post(
        f"/admin/provisioning/{token_id.group(1)}/revoke", data={"csrf_token": csrf_of(again.text)}
    )
    assert revoked.status_code == 303
    assert "Revoked" in web.get("/admin/provisioning").text
    assert web.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_empty_name_is_explained_next_to_the_field(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator")
    csrf = csrf_of(web.get("/admin/provisioning").text)
    refused = web.post("/admin/provisioning/new", data={"csrf_token": csrf, "name": "  "})
    assert refused.status_code == 400
    assert 'id="name-error"' in refused.text and "Enter a name" in refused.text


def test_a_global_reader_sees_tokens_without_actions_and_a_user_administrator_none(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, "Global Reader")
    page = web.get("/admin/provisioning")
    assert page.status_code == 200 and "Make a token" not in page.text
    with browser(env) as other:
        _admin(env, other, "User Administrator", upn="users@contoso.example")
        refused = other.get("/admin/provisioning")
        assert refused.status_code == 403
        csrf = csrf_of(other.get("/admin/users").text)
        made = other.post("/admin/provisioning/new", data={"csrf_token": csrf, "name": "x"})
        assert made.status_code == 403 and "Global Administrator" in made.text
