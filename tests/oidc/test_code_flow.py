"""The authorization code flow in process: authorize, sign in with a pass through the pages, redeem."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.services.context import Env
from passbridge.store.models import AuthorizationCodeRow, RefreshTokenRow, SignInFlow, User, UserSession
from passbridge.tokens.authorize import pending_request, resume_query
from tests.factories import make_app
from tests.oidc.conftest import (
    ADA,
    BASE,
    CALLBACK,
    Browser,
    RelyingParty,
    claims_of,
    issue_pass,
    query_of,
)


def count(env: Env, model: type[object]) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def test_public_client_gets_an_id_token_with_the_pass_sign_in_facts(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    answer = browser.redeem(public_rp, code, auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email offline_access"
    claims = claims_of(env, body["id_token"])
    now = int(env.clock.now().timestamp())
    assert claims["iss"] == BASE
    assert claims["aud"] == public_rp.client_id
    assert claims["nonce"] == auth.params["nonce"]
    assert (claims["amr"], claims["acr"]) == (["tap", "tap-multi-use", "mfa"], "mfa")
    assert claims["auth_time"] == now
    assert (claims["iat"], claims["exp"]) == (now, now + 3600)
    assert claims["oid"] == ada.id
    assert (claims["name"], claims["preferred_username"], claims["email"]) == ("Ada Lovelace", ADA, ADA)
    assert claims["tid"]
    assert "at_hash" in claims


def test_sub_is_stable_per_application_and_differs_between_applications(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    other = RelyingParty(
        make_app(env, "Other", redirect_uris=(CALLBACK,), public=True).application.app_id, None
    )
    issue_pass(env, ADA)
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    first = claims_of(env, browser.redeem(public_rp, code, auth).json()["id_token"])
    # The session is reused: the second application gets its code without another sign-in.
    response, auth2 = browser.authorize(public_rp)
    again = claims_of(
        env, browser.redeem(public_rp, browser.code_from(response, auth2), auth2).json()["id_token"]
    )
    response, auth3 = browser.authorize(other)
    elsewhere = claims_of(
        env, browser.redeem(other, browser.code_from(response, auth3), auth3).json()["id_token"]
    )
    assert first["sub"] == again["sub"]
    assert elsewhere["sub"] != first["sub"]
    assert elsewhere["oid"] == first["oid"] == ada.id


def test_id_token_and_profile_claims_only_when_the_scopes_ask(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA), scope="openid")
    body = browser.redeem(public_rp, code, auth).json()
    claims = claims_of(env, body["id_token"])
    assert "refresh_token" not in body
    assert not {"name", "preferred_username", "email"} & claims.keys()
    response, auth = browser.authorize(public_rp, scope="User.Read")
    body = browser.redeem(public_rp, browser.code_from(response, auth), auth).json()
    assert "id_token" not in body
    assert claims_of(env, body["access_token"])["scp"] == "User.Read"


def test_confidential_client_authenticates_with_its_secret(
    env: Env, browser: Browser, confidential_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(confidential_rp, ADA, issue_pass(env, ADA), pkce=False)
    assert browser.redeem(confidential_rp, code, auth).status_code == 200


def test_confidential_client_without_its_secret_is_refused(
    env: Env, browser: Browser, confidential_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(confidential_rp, ADA, issue_pass(env, ADA))
    anonymous = RelyingParty(confidential_rp.client_id, None)
    answer = browser.redeem(anonymous, code, auth)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    wrong = browser.redeem(RelyingParty(confidential_rp.client_id, "not-the-secret"), code, auth)
    assert (wrong.status_code, wrong.json()["error_codes"]) == (401, [7000215])
    # The code was not spent by the failed attempts.
    assert browser.redeem(confidential_rp, code, auth).status_code == 200


def test_public_client_must_send_a_code_challenge(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    response, auth = browser.authorize(public_rp, pkce=False)
    assert response.status_code == 302
    got = query_of(response.headers["location"])
    assert (got["error"], got["state"]) == ("invalid_request", auth.params["state"])
    assert got["error_description"].startswith("AADSTS9002325:")
    assert count(env, SignInFlow) == 0


def test_plain_code_challenge_method_is_refused(env: Env, browser: Browser, public_rp: RelyingParty) -> None:
    response, _ = browser.authorize(public_rp, code_challenge_method="plain")
    assert query_of(response.headers["location"])["error"] == "invalid_request"
    response, auth = browser.authorize(public_rp)
    no_method = dict(auth.params)
    del no_method["code_challenge_method"]
    from urllib.parse import urlencode

    response = browser.client.get(f"/oauth2/v2.0/authorize?{urlencode(no_method)}")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_wrong_code_verifier_is_invalid_grant(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    answer = browser.redeem(public_rp, code, auth, code_verifier="x" * 50)
    assert answer.status_code == 400
    assert (answer.json()["error"], answer.json()["error_codes"]) == ("invalid_grant", [501481])
    missing = browser.redeem(public_rp, code, auth, code_verifier="")
    assert missing.json()["error"] == "invalid_request"
    assert count(env, RefreshTokenRow) == 0


def test_a_code_works_once_and_its_reuse_revokes_the_tokens_it_gave(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    first = browser.redeem(public_rp, code, auth)
    assert first.status_code == 200
    second = browser.redeem(public_rp, code, auth)
    assert second.status_code == 400
    assert (second.json()["error"], second.json()["error_codes"]) == ("invalid_grant", [54005])
    refused = browser.refresh(public_rp, first.json()["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_a_code_expires_after_sixty_seconds(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    clock.advance(seconds=61)
    answer = browser.redeem(public_rp, code, auth)
    assert (answer.json()["error"], answer.json()["error_codes"]) == ("invalid_grant", [70008])


def test_a_code_is_bound_to_its_client_and_redirect_uri(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    other = RelyingParty(
        make_app(env, "Other", redirect_uris=(CALLBACK,), public=True).application.app_id, None
    )
    assert browser.redeem(other, code, auth).json()["error"] == "invalid_grant"
    moved = browser.redeem(public_rp, code, auth, redirect_uri="http://localhost:9000/elsewhere")
    assert (moved.json()["error"], moved.json()["error_codes"]) == ("invalid_grant", [70000])
    assert browser.redeem(public_rp, code, auth).status_code == 200


def test_unregistered_redirect_uri_is_shown_as_a_page_never_redirected(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    response, _ = browser.authorize(public_rp, redirect_uri="https://evil.example/callback")
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "AADSTS50011" in response.text
    assert "https://evil.example/callback" in response.text
    assert count(env, SignInFlow) == 0


def test_unknown_client_is_shown_as_a_page(env: Env, browser: Browser, public_rp: RelyingParty) -> None:
    stranger = RelyingParty("00000000-0000-0000-0000-00000000beef", None)
    response, _ = browser.authorize(stranger)
    assert (response.status_code, "location" in response.headers) == (400, False)
    assert "AADSTS700016" in response.text


def test_unknown_scope_is_answered_at_the_redirect_uri(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    response, auth = browser.authorize(public_rp, scope="openid Mail.Send")
    got = query_of(response.headers["location"])
    assert (got["error"], got["state"]) == ("invalid_scope", auth.params["state"])
    assert "Mail.Send" in got["error_description"]
    assert count(env, SignInFlow) == 0


def test_a_valid_session_gets_a_code_without_signing_in_again(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    response, auth = browser.authorize(public_rp)
    assert browser.code_from(response, auth)
    assert count(env, UserSession) == 1


def test_prompt_none_without_a_session_answers_login_required(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    response, auth = browser.authorize(public_rp, prompt="none")
    got = query_of(response.headers["location"])
    assert (got["error"], got["state"]) == ("login_required", auth.params["state"])
    assert got["error_description"].startswith("AADSTS50058:")


def test_prompt_none_with_a_session_gets_a_code(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    response, auth = browser.authorize(public_rp, prompt="none")
    assert browser.code_from(response, auth)


def test_prompt_login_forces_a_new_sign_in_and_only_a_newer_session_gets_the_code(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    issue_pass(env, ADA)
    value = issue_pass(env, ADA)
    browser.code_for(public_rp, ADA, value)
    clock.advance(minutes=1)
    response, auth = browser.authorize(public_rp, prompt="login")
    assert (response.status_code, response.headers["location"].startswith("/login?flow=")) == (303, True)
    with env.db.transaction("read") as tx:
        flow = tx.session.scalars(select(SignInFlow).order_by(SignInFlow.created_at.desc())).first()
        assert flow is not None and flow.force_login is True
        resume = flow.return_to
    assert resume is not None
    # Coming back without signing in: the old session predates the request, so no code.
    back = browser.client.get(resume)
    assert (back.status_code, back.headers["location"].startswith("/login?flow=")) == (303, True)
    clock.advance(seconds=5)
    after = browser.client.get(browser.sign_in(response.headers["location"], ADA, value))
    code = browser.code_from(after, auth)
    claims = claims_of(env, browser.redeem(public_rp, code, auth).json()["id_token"])
    assert claims["auth_time"] == int(clock.now().timestamp())


def test_a_tampered_resume_mark_counts_as_a_new_request(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    value = issue_pass(env, ADA)
    browser.code_for(public_rp, ADA, value)
    forced, _ = browser.authorize(public_rp, prompt="login")
    assert forced.status_code == 303
    with env.db.transaction("read") as tx:
        flow = tx.session.scalars(select(SignInFlow).where(SignInFlow.force_login.is_(True))).one()
        resume = flow.return_to
    assert resume is not None
    stamp = query_of(resume)["pb_resume"]
    forged = resume.replace(stamp, "9" + stamp[1:])
    assert browser.client.get(forged).status_code == 303


def test_max_age_asks_for_a_sign_in_when_the_session_is_older(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    value = issue_pass(env, ADA)
    browser.code_for(public_rp, ADA, value)
    clock.advance(minutes=10)
    fresh_enough, auth = browser.authorize(public_rp, max_age="900")
    assert browser.code_from(fresh_enough, auth)
    too_old, auth = browser.authorize(public_rp, max_age="300")
    assert too_old.status_code == 303
    silent, _ = browser.authorize(public_rp, max_age="300", prompt="none")
    assert query_of(silent.headers["location"])["error"] == "login_required"
    code = browser.code_from(
        browser.client.get(browser.sign_in(too_old.headers["location"], ADA, value)), auth
    )
    claims = claims_of(env, browser.redeem(public_rp, code, auth).json()["id_token"])
    assert claims["auth_time"] == int(clock.now().timestamp())


def test_bad_max_age_is_invalid_request(env: Env, browser: Browser, public_rp: RelyingParty) -> None:
    response, _ = browser.authorize(public_rp, max_age="soon")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


def test_tenant_path_serves_the_authorize_endpoint(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    response, _ = browser.authorize(public_rp, path="/organizations/oauth2/v2.0/authorize")
    assert response.status_code == 303
    unknown, _ = browser.authorize(public_rp, path="/nowhere/oauth2/v2.0/authorize")
    assert (unknown.status_code, "AADSTS90002" in unknown.text) == (400, True)


def test_the_code_is_stored_by_keyed_hash_only(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA))
    body = browser.redeem(public_rp, code, auth).json()
    with env.db.transaction("read") as tx:
        [row] = tx.session.scalars(select(AuthorizationCodeRow)).all()
        [token] = tx.session.scalars(select(RefreshTokenRow)).all()
        assert row.code_hash == env.keeper.keyed_hash(code) != code
        assert token.token_hash == env.keeper.keyed_hash(body["refresh_token"])
        assert row.used_at == env.clock.now()
        assert row.expires_at - row.created_at == timedelta(seconds=60)


def test_anonymous_authorization_requests_store_no_sign_in_flow(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    for _ in range(25):
        response, _ = browser.authorize(public_rp, prompt="login")
        assert response.status_code == 303 and response.headers["location"].startswith("/login?return_to=")
        assert browser.client.get(response.headers["location"]).status_code == 200  # the login page too
    assert count(env, SignInFlow) == 0


def test_an_anonymous_requests_flow_is_stored_on_the_first_post_naming_its_application(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    value = issue_pass(env, ADA)
    first, auth = browser.authorize(public_rp, prompt="login")
    resume = browser.sign_in(first.headers["location"], ADA, value)
    with env.db.transaction("read") as tx:
        [flow] = tx.session.scalars(select(SignInFlow)).all()
        assert flow.client_id == public_rp.client_id and flow.force_login is True
        assert flow.auth_request is not None and flow.auth_request["state"] == auth.params["state"]
        assert "code_challenge" not in flow.auth_request
    code = browser.code_from(browser.client.get(resume), auth)
    redeemed = browser.redeem(public_rp, code, auth)
    assert redeemed.status_code == 200 and "id_token" in redeemed.json()


def test_a_return_to_without_a_genuine_resume_mark_names_no_application(env: Env) -> None:
    params = [("client_id", "11111111-2222-3333-4444-555555555555"), ("prompt", "login")]
    genuine = f"/oauth2/v2.0/authorize?{resume_query(env, params, env.clock.now())}"
    asked = pending_request(env, genuine)
    assert asked is not None and asked.client_id == params[0][1] and asked.force_login
    forged = genuine.replace("11111111", "99999999")
    assert pending_request(env, forged) is None
    assert pending_request(env, "/apps") is None
    assert pending_request(env, "https://evil.example/oauth2/v2.0/authorize?" + genuine.split("?")[1]) is None
