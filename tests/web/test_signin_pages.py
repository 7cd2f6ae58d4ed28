"""The sign-in pages without JavaScript: the flow, its cookies, its failures and what it never reveals."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.config import load_settings
from passbridge.directory.service import DirectoryService
from passbridge.services.context import Env, operator
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import LockedOut, SignInFailed
from passbridge.signin.sessions import SessionService
from passbridge.store.models import SignInFlow, SignInLogEntry, TemporaryAccessPass, UserSession
from tests.conftest import TEST_PEPPER
from tests.factories import make_app, make_user
from tests.web.conftest import ADA, browser, csrf_of, issue, set_cookie_headers, sign_in


def count(env: Env, model: type[object]) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def session_cookie(client: TestClient) -> str:
    value = client.cookies.get("pb_session")
    assert value
    return value


def test_whole_flow_without_javascript_goes_from_my_apps_to_sign_in_and_back(
    web: TestClient, env: Env, ada: str
) -> None:
    issued = issue(env, ada)
    anonymous = web.get("/apps")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?return_to=/apps")

    steps = sign_in(web, ada, issued.value, login_url=anonymous.headers["location"])
    assert 'for="username"' in steps.login.text and 'autocomplete="username webauthn"' in steps.login.text
    assert ">Next</button>" in steps.login.text
    assert "Signing in as ada@contoso.example" in steps.pass_page.text
    assert (
        'type="password"' in steps.pass_page.text and 'autocomplete="one-time-code"' in steps.pass_page.text
    )
    assert ">Use another account</a>" in steps.pass_page.text
    # No passkey or authenticator app yet, so the pass leads to set-up first, then where it was going.
    assert (steps.proved.status_code, steps.proved.headers["location"]) == (
        303,
        "/setup-methods?return_to=/apps",
    )

    setup = web.get(steps.proved.headers["location"])
    assert setup.status_code == 200
    assert "Set up your sign-in methods" in setup.text
    assert '<a href="/apps" class="quiet">Continue</a>' in setup.text
    apps = web.get("/apps")
    assert apps.status_code == 200
    assert '<h1 id="page-title">My apps</h1>' in apps.text
    assert "Ada Lovelace" in apps.text


def test_login_without_return_to_lands_on_my_apps_after_set_up(web: TestClient, env: Env, ada: str) -> None:
    steps = sign_in(web, ada, issue(env, ada).value)
    assert steps.proved.headers["location"] == "/setup-methods"
    assert '<a href="/apps" class="quiet">Continue</a>' in web.get("/setup-methods").text


def test_cookies_are_httponly_lax_and_not_secure_on_localhost(web: TestClient, env: Env, ada: str) -> None:
    steps = sign_in(web, ada, issue(env, ada).value)
    [flow_cookie] = set_cookie_headers(steps.login, "pb_flow")
    assert re.fullmatch(r"pb_flow=[0-9a-f-]{36}; HttpOnly; Max-Age=900; Path=/; SameSite=lax", flow_cookie)
    [session_set, *_] = set_cookie_headers(steps.proved, "pb_session")
    value = session_cookie(web)
    # The pass lasts the policy's default 60 minutes, which ends the session before the 480-minute limit.
    assert session_set == f"pb_session={value}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax"
    [flow_deleted] = set_cookie_headers(steps.proved, "pb_flow")
    assert "Max-Age=0" in flow_deleted


def test_cookies_are_secure_when_served_over_https(env: Env, ada: str, clock: ManualClock) -> None:
    settings = load_settings(
        data_dir=env.settings.data_dir,
        database_url=env.settings.effective_database_url,
        pepper=TEST_PEPPER,
        base_url="https://login.contoso.example",
    )
    public = Env.from_settings(settings, clock)
    try:
        with browser(public, "https://login.contoso.example") as client:
            steps = sign_in(client, ada, issue(public, ada).value)
        [flow_cookie] = set_cookie_headers(steps.login, "pb_flow")
        [session_set] = set_cookie_headers(steps.proved, "pb_session")
        for header in (flow_cookie, session_set):
            assert {"HttpOnly", "Path=/", "SameSite=lax", "Secure"} <= set(header.split("; ")[1:])
    finally:
        public.db.dispose()


def test_signing_in_again_rotates_the_session(web: TestClient, env: Env, ada: str) -> None:
    issued = issue(env, ada)
    sign_in(web, ada, issued.value)
    first = session_cookie(web)
    # Signed in, /login shows who is; the form for a new sign-in is "Use another account".
    sign_in(web, ada, issued.value, login_url="/login?another=1")
    second = session_cookie(web)
    assert first != second
    sessions = SessionService(env)
    assert sessions.current(first) is None
    current = sessions.current(second)
    assert current is not None and current.user_principal_name == ada
    with env.db.transaction("read") as tx:
        ended = tx.session.scalars(select(UserSession).where(UserSession.ended_at.is_not(None))).all()
    assert len(ended) == 1


def _failure_text(response_text: str) -> str:
    # The only per-flow difference between two failure pages is the CSRF token.
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response_text).replace(
        "nobody@contoso.example", ADA
    )


def test_unknown_wrong_and_disabled_fail_with_the_same_page(env: Env, ada: str, web: TestClient) -> None:
    issued = issue(env, ada)
    make_user(env, "nobody-disabled@contoso.example")
    wrong = sign_in(web, ada, "WRONGPASS").proved
    unknown = sign_in(web, "nobody@contoso.example", issued.value).proved
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).set_account_enabled(ada, False)
    disabled = sign_in(web, ada, issued.value).proved
    assert [r.status_code for r in (wrong, unknown, disabled)] == [401, 401, 401]
    assert _failure_text(wrong.text) == _failure_text(unknown.text) == _failure_text(disabled.text)
    assert SignInFailed.GENERIC in html.unescape(wrong.text)
    assert 'aria-invalid="true"' in wrong.text and 'aria-describedby="pass-message"' in wrong.text
    assert "pb_session" not in web.cookies
    assert count(env, UserSession) == 0


def test_too_many_failures_lock_the_user_out_with_429(web: TestClient, env: Env, ada: str) -> None:
    issued = issue(env, ada)
    for _ in range(env.settings.lockout_threshold):
        assert sign_in(web, ada, "WRONGPASS").proved.status_code == 401
    locked = sign_in(web, ada, issued.value).proved
    assert locked.status_code == 429
    assert "try again later" in locked.text
    assert locked.headers["retry-after"] == str(env.settings.lockout_window_minutes * 60)
    assert LockedOut(timedelta(minutes=15)).message in locked.text
    assert count(env, UserSession) == 0


def test_csrf_mismatch_is_refused_with_400_and_changes_nothing(web: TestClient, env: Env, ada: str) -> None:
    issued = issue(env, ada, one_time=True)
    login = web.get("/login")
    refused = web.post("/login", data={"csrf_token": "forged", "username": ada})
    assert refused.status_code == 400
    assert '<a href="/login" class="button primary">Start again</a>' in refused.text
    with env.db.transaction("read") as tx:
        # A forged post creates nothing: only the token this server gave the page creates the flow.
        assert tx.session.scalars(select(SignInFlow)).all() == []

    web.post("/login", data={"csrf_token": csrf_of(login.text), "username": ada})
    refused = web.post("/login/pass", data={"csrf_token": "forged", "pass": issued.value})
    assert refused.status_code == 400
    assert "Start again" in refused.text
    assert (count(env, UserSession), count(env, SignInLogEntry)) == (0, 0)
    with env.db.transaction("read") as tx:
        used = select(TemporaryAccessPass.used_at).where(TemporaryAccessPass.id == issued.view.id)
        assert tx.session.scalars(used).one() is None
    # The one-time pass still works: the refused post did not spend it.
    proved = web.post(
        "/login/pass", data={"csrf_token": csrf_of(web.get("/login/pass").text), "pass": issued.value}
    )
    assert proved.status_code == 303


def test_an_empty_username_is_shown_next_to_the_field(web: TestClient, env: Env, tenant: object) -> None:
    login = web.get("/login")
    refused = web.post("/login", data={"csrf_token": csrf_of(login.text), "username": "   "})
    assert refused.status_code == 400
    assert (
        '<p id="username-message" class="message" aria-live="polite">'
        "Enter your username, such as ada@contoso.example.</p>"
    ) in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'aria-describedby="username-message username-hint"' in refused.text


def test_an_expired_flow_offers_start_again(web: TestClient, env: Env, ada: str, clock: ManualClock) -> None:
    issued = issue(env, ada)
    login = web.get("/login")
    web.post("/login", data={"csrf_token": csrf_of(login.text), "username": ada})
    csrf = csrf_of(web.get("/login/pass").text)
    clock.advance(minutes=env.settings.flow_minutes + 1)
    expired = web.post("/login/pass", data={"csrf_token": csrf, "pass": issued.value})
    assert expired.status_code == 400
    assert "This sign-in has expired. Start again." in expired.text
    assert count(env, UserSession) == 0


def test_one_time_pass_leads_to_setup_with_ten_minutes_to_register(
    web: TestClient, env: Env, ada: str
) -> None:
    steps = sign_in(web, ada, issue(env, ada, one_time=True).value)
    assert steps.proved.headers["location"] == "/setup-methods"
    setup = web.get("/setup-methods").text
    assert "You have 10 minutes to register a method" in setup
    assert "1 Jan 2026, 09:10 UTC" in setup


def test_return_to_a_page_or_a_registered_uri_is_honoured(web: TestClient, env: Env, ada: str) -> None:
    make_app(env, "Wiki", redirect_uris=("https://wiki.contoso.example/auth/callback",))
    issued = issue(env, ada)
    steps = sign_in(web, ada, issued.value, login_url="/login?return_to=/security-info")
    assert steps.proved.headers["location"] == "/setup-methods?return_to=/security-info"
    assert (
        '<a href="/security-info" class="quiet">Continue</a>'
        in web.get(steps.proved.headers["location"]).text
    )

    target = "https://wiki.contoso.example/auth/callback"
    steps = sign_in(web, ada, issued.value, login_url=f"/login?return_to={target}")
    setup = web.get(steps.proved.headers["location"])
    assert f'<a href="{target}" class="quiet">Continue</a>' in setup.text


def test_a_foreign_return_to_is_refused(web: TestClient, env: Env, ada: str) -> None:
    refused = web.get("/login?return_to=https://evil.example/steal")
    assert refused.status_code == 400
    assert "return_to must be a path on this site or a registered redirect URI." in refused.text
    assert set_cookie_headers(refused, "pb_flow") == []
    assert count(env, SignInFlow) == 0
    # Nor can set-up be pointed elsewhere after signing in.
    sign_in(web, ada, issue(env, ada).value)
    setup = web.get("/setup-methods?return_to=https://evil.example/steal")
    assert '<a href="/apps" class="quiet">Continue</a>' in setup.text
    assert "evil.example" not in setup.text


def test_login_adopts_a_flow_begun_elsewhere(web: TestClient, env: Env, ada: str) -> None:
    begun = SignInService(env).begin(return_to="/security-info")
    page = web.get(f"/login?flow={begun.id}")
    assert page.status_code == 200
    assert web.cookies.get("pb_flow") == begun.id
    assert csrf_of(page.text) == begun.csrf_token
    unknown = web.get("/login?flow=00000000-0000-0000-0000-000000000000")
    assert (unknown.status_code, "Start again" in unknown.text) == (400, True)


def test_secrets_never_appear_in_any_page(web: TestClient, env: Env, ada: str) -> None:
    issued = issue(env, ada)
    steps = sign_in(web, ada, issued.value)
    cookie = session_cookie(web)
    # /login signed in shows who is, with no form.
    pages = [
        *steps.pages,
        web.get("/setup-methods"),
        web.get("/apps"),
        web.get("/login"),
        web.get("/security-info"),
    ]
    pages.append(sign_in(web, ada, "WRONGPASS", login_url="/login?another=1").proved)
    for response in pages:
        assert issued.value not in response.text
        assert cookie not in response.text
    assert "Temporary Access Pass" in pages[-2].text


def test_a_form_body_over_64_kib_is_refused_with_413(web: TestClient, env: Env, ada: str) -> None:
    login = web.get("/login")
    too_big = web.post("/login", data={"csrf_token": csrf_of(login.text), "username": "a" * (64 * 1024)})
    assert too_big.status_code == 413
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(SignInFlow.state)).all() == []  # the refused first post made no flow


def test_a_form_with_more_than_16_fields_is_refused_and_changes_nothing(
    web: TestClient, env: Env, ada: str
) -> None:
    login = web.get("/login")
    fields = {"csrf_token": csrf_of(login.text), "username": ada} | {f"extra{n}": "x" for n in range(15)}
    refused = web.post("/login", data=fields)
    assert refused.status_code == 400
    assert "Start again" in refused.text
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(SignInFlow.state)).all() == []  # the refused first post made no flow


def test_a_posted_username_is_read_as_typed(web: TestClient, env: Env, ada: str) -> None:
    # Browsers post UTF-8, percent-encoded, spaces as "+": the pass page shows the name as it was typed.
    login = web.get("/login")
    typed = "zoë+öst & co@contoso.example"
    moved = web.post("/login", data={"csrf_token": csrf_of(login.text), "username": typed})
    assert moved.status_code == 303
    assert f"Signing in as {html.escape(typed)}" in web.get("/login/pass").text
