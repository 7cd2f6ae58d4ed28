"""Signed-in pages: "My apps", security info, set-up, signing out, and the files every page loads."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionService
from tests.factories import make_app
from tests.web.conftest import csrf_of, issue, sign_in


def test_my_apps_lists_apps_with_web_redirect_uris_linking_to_their_origin(
    web: TestClient, env: Env, ada: str
) -> None:
    make_app(
        env, "Wiki", redirect_uris=("https://wiki.contoso.example/auth/callback", "https://other.example/cb")
    )
    make_app(env, "Nightly job")  # no redirect URI: nothing to open
    sign_in(web, ada, issue(env, ada).value)
    page = web.get("/apps").text
    assert '<a href="https://wiki.contoso.example/" class="app-tile">' in page
    assert ">Wiki</span>" in page
    assert "Nightly job" not in page
    assert 'action="/logout"' in page and ">Sign out</button>" in page
    assert 'href="/security-info"' in page


def test_my_apps_without_apps_says_so(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada).value)
    assert "No apps have been added for Contoso yet." in web.get("/apps").text


def test_security_info_shows_the_pass_and_when_it_ends_but_never_its_value(
    web: TestClient, env: Env, ada: str
) -> None:
    issued = issue(env, ada)
    sign_in(web, ada, issued.value)
    page = web.get("/security-info")
    assert page.status_code == 200
    assert "<h2>Temporary Access Pass</h2>" in page.text
    assert '<span class="badge ok">Ready to use</span>' in page.text
    assert '<time datetime="2026-01-01T10:00:00Z">1 Jan 2026, 10:00 UTC</time>' in page.text
    assert issued.value not in page.text
    # Sign out, and adding a passkey (an authenticator app is a link to its own page).
    assert page.text.count("<button") == 2 and ">Add a passkey</button>" in page.text
    assert 'href="/security-info/authenticator-app"' in page.text


def test_security_info_shows_a_used_one_time_pass_as_not_usable(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada, one_time=True).value)
    page = web.get("/security-info").text
    # Apart from the methods, as history (tests/web/test_security_info_wording.py has the details).
    assert '<h2 id="spent-title">Passes you can no longer use</h2>' in page
    assert "<strong>used</strong>" in page and "Already used" not in page


def test_signed_in_pages_send_anonymous_visitors_to_sign_in_and_back(web: TestClient, tenant: object) -> None:
    for path in ("/apps", "/security-info", "/setup-methods"):
        response = web.get(path)
        assert (response.status_code, response.headers["location"]) == (303, f"/login?return_to={path}")
    assert web.get("/setup-methods?return_to=/apps").headers["location"] == (
        "/login?return_to=/setup-methods%3Freturn_to%3D/apps"
    )


def test_root_goes_to_my_apps(web: TestClient, tenant: object) -> None:
    response = web.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/apps")


def test_sign_out_ends_the_session_everywhere(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada).value)
    cookie = web.cookies.get("pb_session")
    apps = web.get("/apps")
    out = web.post("/logout", data={"csrf_token": csrf_of(apps.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/signed-out")
    assert any(h.startswith('pb_session=""') and "Max-Age=0" in h for h in out.headers.get_list("set-cookie"))
    assert SessionService(env).current(cookie) is None
    # The old cookie, presented again, opens nothing.
    web.cookies.set("pb_session", cookie or "")
    assert web.get("/apps").status_code == 303


def test_sign_out_without_the_session_token_keeps_the_session(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada).value)
    refused = web.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 400
    assert web.get("/apps").status_code == 200


def test_session_ends_when_the_one_time_registration_window_closes(
    web: TestClient, env: Env, ada: str, clock: ManualClock
) -> None:
    sign_in(web, ada, issue(env, ada, one_time=True).value)
    assert "Register a passkey or an authenticator app before" in web.get("/apps").text
    clock.advance(minutes=10)
    assert web.get("/apps").status_code == 303


def test_stylesheet_and_favicon_are_served(web: TestClient, tenant: object) -> None:
    css = web.get("/static/style.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")
    icon = web.get("/favicon.ico")
    assert (icon.status_code, icon.headers["content-type"]) == (200, "image/x-icon")
    assert icon.content[:4] == b"\x00\x00\x01\x00"
    svg = web.get("/static/favicon.svg")
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")


def test_pages_are_accessible_by_construction(web: TestClient, tenant: object) -> None:
    page = web.get("/login")
    assert page.text.startswith('<!doctype html>\n<html lang="en">')
    assert '<label for="username">Username</label>' in page.text
    assert "autofocus" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_pages_stay_out_of_the_graph_openapi_document(web: TestClient, tenant: object) -> None:
    paths = web.get("/openapi.json").json()["paths"]
    assert not {"/login", "/login/pass", "/apps", "/logout", "/security-info", "/setup-methods", "/"} & set(
        paths
    )
