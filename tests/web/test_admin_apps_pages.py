"""The admin portal's applications: registering a client shows its secret once, rotating replaces it, and
granting application permissions takes a Global Administrator (admin consent), not an Application
Administrator. An application's tile on My apps opens its home page."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.methods.strength_policies import StrengthService
from passbridge.services.context import Env, operator
from passbridge.store.models import Application, AuditEntry
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin

SECRET = re.compile(r'aria-label="Client secret" data-pass="([^"]+)"')


def _register(web: TestClient, **fields: object) -> object:
    csrf = csrf_of(web.get("/admin/apps/new").text)
    return web.post("/admin/apps/new", data={"csrf_token": csrf, **fields})


def _app(env: Env, name: str) -> Application:
    with env.db.transaction("read") as tx:
        return tx.session.scalars(select(Application).where(Application.display_name == name)).one()


def test_an_application_administrator_registers_a_client_and_sees_its_secret_once(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, "Application Administrator")
    created = _register(
        web,
        display_name="Expenses",
        redirect_uris="https://expenses.contoso.example/callback",
        home_page="https://expenses.contoso.example/",
        strength="phishing-resistant-mfa",
    )
    assert created.status_code == 200, created.text  # type: ignore[attr-defined]
    secret = unescape(SECRET.search(created.text).group(1))  # type: ignore[attr-defined, union-attr]
    app = _app(env, "Expenses")
    assert env.keeper.keyed_hash_matches(secret, app.secret_hash)
    assert (
        # The older name still chooses the built-in strength, stored by its Graph id.
        app.required_strength == "00000000-0000-0000-0000-000000000004"
        and app.home_page_url == "https://expenses.contoso.example/"
    )
    page = web.get(f"/admin/apps/{app.app_id}")
    assert page.status_code == 200 and secret not in page.text
    # Its tile on My apps opens the home page.
    assert 'href="https://expenses.contoso.example/"' in web.get("/apps").text
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(select(AuditEntry)).all()
    assert all(secret not in str(e.additional_details) + str(e.target_resources) for e in entries)


def test_granting_application_permissions_takes_a_global_administrator(env: Env, web: TestClient) -> None:
    _admin(env, web, "Application Administrator")
    refused = _register(
        web, display_name="Sync", redirect_uris="", permission=["User.Read.All", "AuditLog.Read.All"]
    )
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Global Administrator" in refused.text  # type: ignore[attr-defined]
    assert 'value="User.Read.All" checked' in refused.text  # type: ignore[attr-defined]  # kept as ticked


def test_a_bad_redirect_uri_is_explained_next_to_the_field(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator")
    refused = _register(web, display_name="Wiki", redirect_uris="http://wiki.contoso.example/cb")
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert 'id="redirect_uris-error"' in refused.text and "must use https" in refused.text  # type: ignore[attr-defined]
    assert "http://wiki.contoso.example/cb" in refused.text  # type: ignore[attr-defined]


def test_rotating_a_secret_shows_the_new_one_once_and_the_old_one_stops_working(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, "Global Administrator")
    created = _register(web, display_name="Payroll", redirect_uris="https://payroll.contoso.example/cb")
    old = unescape(SECRET.search(created.text).group(1))  # type: ignore[attr-defined, union-attr]
    app = _app(env, "Payroll")
    page = web.get(f"/admin/apps/{app.app_id}")
    rotated = web.post(f"/admin/apps/{app.app_id}/rotate-secret", data={"csrf_token": csrf_of(page.text)})
    assert rotated.status_code == 200
    new = unescape(SECRET.search(rotated.text).group(1))  # type: ignore[union-attr]
    stored = _app(env, "Payroll").secret_hash
    assert (
        new != old
        and env.keeper.keyed_hash_matches(new, stored)
        and not env.keeper.keyed_hash_matches(old, stored)
    )
    assert "previous secret no longer works" in rotated.text


def test_a_global_reader_lists_applications_without_actions(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator", upn="ga@contoso.example")
    _register(web, display_name="Portal", redirect_uris="https://portal.contoso.example/cb")
    with TestClient(web.app, base_url=str(web.base_url), follow_redirects=False) as reader:
        _admin(env, reader, "Global Reader", upn="reader@contoso.example")
        listing = reader.get("/admin/apps")
        assert "Portal" in listing.text and "Register an application" not in listing.text
        app = _app(env, "Portal")
        page = reader.get(f"/admin/apps/{app.app_id}")
        assert "Rotate secret" not in page.text
        refused = reader.post(
            f"/admin/apps/{app.app_id}/rotate-secret", data={"csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code in (400, 403) and 'data-pass="' not in refused.text


def test_an_authentication_administrator_cannot_see_applications(env: Env, web: TestClient) -> None:
    _admin(env, web, "Authentication Administrator")
    page = web.get("/admin/apps")
    assert page.status_code == 403 and "Application Administrator" in page.text


def _custom_strength(env: Env, name: str) -> str:
    with env.db.transaction() as tx:
        return (
            StrengthService(tx, env, operator()).create(name, "", ["temporaryAccessPassOneTime", "fido2"]).id
        )


def test_an_applications_page_offers_every_strength_of_the_tenant_and_saves_the_chosen_one(
    env: Env, web: TestClient
) -> None:
    strength_id = _custom_strength(env, "Payroll strength")
    _admin(env, web, "Application Administrator")
    form = web.get("/admin/apps/new").text
    assert f'<option value="{strength_id}">Payroll strength (one-time pass, passkey)</option>' in form
    _register(
        web, display_name="Payroll", redirect_uris="https://payroll.contoso.example/cb", strength=strength_id
    )
    app = _app(env, "Payroll")
    assert app.required_strength == strength_id
    page = web.get(f"/admin/apps/{app.app_id}")
    assert f'<option value="{strength_id}" selected>' in page.text
    listing = web.get("/admin/apps").text
    assert "Payroll strength (one-time pass, passkey)" in listing
    saved = web.post(
        f"/admin/apps/{app.app_id}/strength",
        data={"csrf_token": csrf_of(page.text), "strength": "00000000-0000-0000-0000-000000000003"},
    )
    assert saved.status_code == 200 and "must now satisfy Passwordless MFA (passkey)" in saved.text
    assert _app(env, "Payroll").required_strength == "00000000-0000-0000-0000-000000000003"
    cleared = web.post(
        f"/admin/apps/{app.app_id}/strength", data={"csrf_token": csrf_of(page.text), "strength": ""}
    )
    assert cleared.status_code == 200 and _app(env, "Payroll").required_strength is None
    with env.db.transaction("read") as tx:
        changes = [
            e
            for e in tx.session.scalars(select(AuditEntry))
            if e.activity_display_name == "Update application"
        ]
    assert len(changes) == 2


def test_an_unknown_strength_is_a_readable_refusal_on_the_page(env: Env, web: TestClient) -> None:
    _admin(env, web, "Application Administrator")
    refused = _register(
        web, display_name="Payroll", redirect_uris="https://p.contoso.example/cb", strength="strongest"
    )
    assert refused.status_code == 400 and "Choose one of the listed strengths." in refused.text  # type: ignore[attr-defined]
    _register(web, display_name="Payroll", redirect_uris="https://p.contoso.example/cb")
    app = _app(env, "Payroll")
    page = web.get(f"/admin/apps/{app.app_id}")
    bad = web.post(
        f"/admin/apps/{app.app_id}/strength", data={"csrf_token": csrf_of(page.text), "strength": "x"}
    )
    assert bad.status_code == 400 and "Choose one of the listed strengths." in bad.text
    assert _app(env, "Payroll").required_strength is None


def test_a_global_reader_sees_the_strength_but_cannot_change_it(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Administrator", upn="ga@contoso.example")
    _register(web, display_name="Portal", redirect_uris="https://portal.contoso.example/cb", strength="mfa")
    app = _app(env, "Portal")
    with TestClient(web.app, base_url=str(web.base_url), follow_redirects=False) as reader:
        _admin(env, reader, "Global Reader", upn="reader@contoso.example")
        page = reader.get(f"/admin/apps/{app.app_id}")
        assert "Multifactor authentication" in page.text and "Save strength" not in page.text
        refused = reader.post(
            f"/admin/apps/{app.app_id}/strength", data={"csrf_token": csrf_of(page.text), "strength": ""}
        )
        assert refused.status_code in (400, 403)
    assert _app(env, "Portal").required_strength == "00000000-0000-0000-0000-000000000002"
