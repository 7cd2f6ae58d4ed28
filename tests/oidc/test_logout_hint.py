"""RP-initiated logout ends a session only for the person the `id_token_hint` names.

OpenID Connect RP-Initiated Logout 1.0 section 2: the OP MUST ask the End-User whether to sign out when
the hint "does not belong to the current OP session ... and/or currently logged in End-User". So an old
ID token of someone else (or of nobody signed in here) ends nothing by itself: the person signed in is
asked to confirm (a POST with the session's CSRF token), and the hint's own session is never ended from
another browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User, UserSession
from tests.factories import make_user
from tests.oidc.conftest import ADA, BASE, CALLBACK, Browser, RelyingParty, csrf_of, issue_pass

GRACE = "grace@contoso.example"


@pytest.fixture
def second_browser(env: Env, tenant: Initialised) -> Iterator[Browser]:
    with TestClient(create_app(env), base_url=BASE, follow_redirects=False) as client:
        yield Browser(env, client)


def id_token_of(env: Env, browser: Browser, rp: RelyingParty, upn: str) -> str:
    code, auth = browser.code_for(rp, upn, issue_pass(env, upn), scope="openid offline_access")
    token: str = browser.redeem(rp, code, auth).json()["id_token"]
    return token


def ended(env: Env) -> dict[str, bool]:
    """Each user's UPN -> whether their (one) browser session has ended."""
    with env.db.transaction("read") as tx:
        rows = tx.session.execute(select(User.user_principal_name, UserSession.ended_at).join(UserSession))
        return {upn: ended_at is not None for upn, ended_at in rows}


def test_logout_with_someone_elses_id_token_hint_asks_to_confirm_and_never_ends_their_session(
    env: Env, browser: Browser, second_browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    make_user(env, GRACE, display_name="Grace Hopper")
    adas_token = id_token_of(env, browser, public_rp, ADA)
    id_token_of(env, second_browser, public_rp, GRACE)
    logout = {"id_token_hint": adas_token, "post_logout_redirect_uri": CALLBACK, "state": "bye"}

    asked = second_browser.client.get("/oauth2/v2.0/logout", params=logout)
    assert asked.status_code == 200 and "location" not in asked.headers
    assert f"Sign out {GRACE}?" in asked.text
    assert ended(env) == {ADA: False, GRACE: False}

    forged = second_browser.client.post("/oauth2/v2.0/logout", data={**logout, "csrf_token": "guess"})
    assert f"Sign out {GRACE}?" in forged.text
    assert ended(env) == {ADA: False, GRACE: False}

    confirmed = second_browser.client.post(
        "/oauth2/v2.0/logout", data={**logout, "csrf_token": csrf_of(asked.text)}
    )
    assert (confirmed.status_code, confirmed.headers["location"]) == (302, f"{CALLBACK}?state=bye")
    # Grace chose to sign out of this browser; Ada's session, which the hint named, goes on.
    assert ended(env) == {ADA: False, GRACE: True}


def test_logout_with_a_hint_in_a_browser_where_nobody_is_signed_in_ends_no_session(
    env: Env, browser: Browser, second_browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    adas_token = id_token_of(env, browser, public_rp, ADA)
    answer = second_browser.client.get(
        "/oauth2/v2.0/logout",
        params={"id_token_hint": adas_token, "post_logout_redirect_uri": CALLBACK, "state": "s"},
    )
    assert (answer.status_code, answer.headers["location"]) == (302, f"{CALLBACK}?state=s")
    assert ended(env) == {ADA: False}


def test_logout_with_the_signed_in_persons_own_hint_signs_out_without_asking(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    adas_token = id_token_of(env, browser, public_rp, ADA)
    answer = browser.client.get("/oauth2/v2.0/logout", params={"id_token_hint": adas_token})
    assert answer.status_code == 200 and "You have signed out" in answer.text
    assert ended(env) == {ADA: True}
