"""The userinfo endpoint and RP-initiated logout."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from passbridge.services.context import Env
from passbridge.store.models import RefreshTokenRow, User, UserSession
from tests.oidc.conftest import ADA, CALLBACK, Browser, RelyingParty, claims_of, csrf_of, issue_pass, query_of

TokenFactory = Callable[..., dict[str, str]]


def signed_in_tokens(env: Env, browser: Browser, rp: RelyingParty, scope: str) -> dict[str, str]:
    code, auth = browser.code_for(rp, ADA, issue_pass(env, ADA), scope=scope)
    body: dict[str, str] = browser.redeem(rp, code, auth).json()
    return body


def test_userinfo_returns_the_id_tokens_sub_and_the_released_claims(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    body = signed_in_tokens(env, browser, public_rp, "openid profile email")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    for answer in (
        browser.client.get("/oidc/userinfo", headers=bearer),
        browser.client.post("/oidc/userinfo", headers=bearer),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "sub": claims_of(env, body["id_token"])["sub"],
            "name": "Ada Lovelace",
            "preferred_username": ADA,
            "email": ADA,
        }


def test_userinfo_releases_only_sub_without_profile_and_email(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    body = signed_in_tokens(env, browser, public_rp, "openid")
    answer = browser.client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert list(answer.json()) == ["sub"]


def test_userinfo_needs_a_user_token_with_openid(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User, app_auth: TokenFactory
) -> None:
    missing = browser.client.get("/oidc/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    app = browser.client.get("/oidc/userinfo", headers=app_auth("User.Read.All"))
    assert (app.status_code, app.json()["error"]) == (401, "invalid_token")
    garbage = browser.client.get("/oidc/userinfo", headers={"Authorization": "Bearer abc.def.ghi"})
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    body = signed_in_tokens(env, browser, public_rp, "User.Read")
    scoped = browser.client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (scoped.status_code, scoped.json()["error"]) == (403, "insufficient_scope")


def test_logout_with_an_id_token_hint_ends_the_session_revokes_refresh_tokens_and_redirects(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    body = signed_in_tokens(env, browser, public_rp, "openid offline_access")
    answer = browser.client.get(
        "/oauth2/v2.0/logout",
        params={"id_token_hint": body["id_token"], "post_logout_redirect_uri": CALLBACK, "state": "bye"},
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == f"{CALLBACK}?state=bye"
    assert 'pb_session=""' in answer.headers["set-cookie"]
    with env.db.transaction("read") as tx:
        [signed] = tx.session.scalars(select(UserSession)).all()
        [token] = tx.session.scalars(select(RefreshTokenRow)).all()
        assert signed.ended_at is not None and token.revoked_at is not None
    assert browser.refresh(public_rp, body["refresh_token"]).json()["error"] == "invalid_grant"
    again, _ = browser.authorize(public_rp, prompt="none")
    assert query_of(again.headers["location"])["error"] == "login_required"


def test_logout_never_redirects_to_an_unregistered_address(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    body = signed_in_tokens(env, browser, public_rp, "openid")
    answer = browser.client.get(
        "/oauth2/v2.0/logout",
        params={"id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert answer.status_code == 200
    assert "You have signed out" in answer.text


def test_logout_with_a_forged_hint_is_an_error_page_and_signs_nobody_out(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    body = signed_in_tokens(env, browser, public_rp, "openid")
    forged = body["id_token"][:-4] + ("AAAA" if not body["id_token"].endswith("AAAA") else "BBBB")
    answer = browser.client.get(
        "/oauth2/v2.0/logout", params={"id_token_hint": forged, "post_logout_redirect_uri": CALLBACK}
    )
    assert (answer.status_code, "location" in answer.headers) == (400, False)
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(UserSession)).one().ended_at is None


def test_logout_without_a_hint_asks_the_person_to_confirm(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    signed_in_tokens(env, browser, public_rp, "openid")
    page = browser.client.get("/oauth2/v2.0/logout")
    assert page.status_code == 200 and "Sign out" in page.text
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(UserSession)).one().ended_at is None
    forged = browser.client.post("/oauth2/v2.0/logout", data={"csrf_token": "guess"})
    assert "Sign out" in forged.text
    done = browser.client.post("/oauth2/v2.0/logout", data={"csrf_token": csrf_of(page.text)})
    assert "You have signed out" in done.text
    with env.db.transaction("read") as tx:
        assert tx.session.scalars(select(UserSession)).one().ended_at is not None
