"""Signing out says so, and `/login` while signed in says who is signed in, with "Continue" and "Use another
account" (which ends nothing until the new sign-in succeeds), instead of a form that looks signed out."""

from __future__ import annotations

from html import unescape

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from passbridge.signin.sessions import SessionService
from tests.factories import make_user
from tests.web.conftest import csrf_of, issue, sign_in, username_form

BOB = "bob@contoso.example"


def _sign_out(web: TestClient) -> None:
    out = web.post("/logout", data={"csrf_token": csrf_of(web.get("/apps").text)})
    assert (out.status_code, out.headers["location"]) == (303, "/signed-out")


def test_sign_out_shows_a_page_that_says_you_are_signed_out(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada).value)
    _sign_out(web)
    page = web.get("/signed-out")
    assert page.status_code == 200
    text = unescape(page.text)
    assert '<h1 id="page-title">You\'re signed out</h1>' in text
    assert "You have signed out of your Contoso account in this browser." in text
    assert '<a href="/login" class="button primary">Sign in again</a>' in text
    assert 'name="username"' not in text  # not the sign-in form again
    assert web.get("/apps").status_code == 303


def test_the_signed_out_page_never_claims_it_while_a_session_is_current(
    web: TestClient, env: Env, ada: str
) -> None:
    sign_in(web, ada, issue(env, ada).value)
    opened = web.get("/signed-out")
    assert (opened.status_code, opened.headers["location"]) == (303, "/apps")


def test_login_while_signed_in_says_who_you_are_with_continue_and_use_another_account(
    web: TestClient, env: Env, ada: str
) -> None:
    sign_in(web, ada, issue(env, ada).value)
    page = web.get("/login")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "You're signed in" in text
    assert "<strong>Ada Lovelace</strong>" in text and ada in text
    assert '<a href="/apps" class="button primary" id="continue">Continue</a>' in text
    assert '<a href="/login?another=1" class="quiet">Use another account</a>' in text
    assert 'action="/logout"' in text  # signing out is one click away, and only on purpose
    assert 'name="username"' not in text


def test_continue_leads_where_the_open_sign_in_was_going(web: TestClient, env: Env, ada: str) -> None:
    sign_in(web, ada, issue(env, ada).value)
    # Sent to sign in again on the way to security info: the form names who is signed in, filled in.
    again = web.get("/login?return_to=/security-info")
    assert 'class="identity">Signed in as ada@contoso.example</p>' in again.text
    assert f'name="username" type="text" value="{ada}"' in again.text
    assert web.post("/login", data=username_form(again.text, ada)).status_code == 303
    # Left there and opened /login again: "Continue" goes on to security info, not to My apps.
    page = web.get("/login")
    assert '<a href="/security-info" class="button primary" id="continue">Continue</a>' in page.text


def test_use_another_account_ends_nothing_until_the_new_sign_in_succeeds(
    web: TestClient, env: Env, ada: str
) -> None:
    make_user(env, BOB, display_name="Bob Kahn")
    sign_in(web, ada, issue(env, ada).value)
    ada_cookie = web.cookies.get("pb_session")
    form = web.get("/login?another=1")
    assert 'name="username" type="text" value=""' in form.text
    assert "You stay signed in as\n  Ada Lovelace until this sign-in succeeds." in form.text
    # A wrong pass for Bob: Ada is still signed in, in this browser and on the server.
    assert web.post("/login", data=username_form(form.text, BOB)).status_code == 303
    pass_page = web.get("/login/pass")
    wrong = web.post("/login/pass", data={"csrf_token": csrf_of(pass_page.text), "pass": "not-it"})
    assert wrong.status_code == 401
    assert "Signed in as Ada Lovelace" in web.get("/apps").text
    assert SessionService(env).current(ada_cookie) is not None
    # Bob's sign-in succeeds: the browser is Bob's now, and Ada's session there has ended.
    done = sign_in(web, BOB, issue(env, BOB).value, login_url="/login?another=1")
    assert done.proved.status_code == 303
    assert "Signed in as Bob Kahn" in web.get("/apps").text
    assert SessionService(env).current(ada_cookie) is None
