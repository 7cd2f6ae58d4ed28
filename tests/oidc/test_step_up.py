"""Authentication strengths at the authorize endpoint: an application that requires phishing-resistant
MFA steps a pass session up to a passkey, refuses a sign-in that stays below it, and `acr_values` asks
for a strength without requiring it. Passkeys answered by a software authenticator (tests/softkey.py)."""

from __future__ import annotations

from sqlalchemy import select

from passbridge.directory.apps import ApplicationService
from passbridge.methods.passkeys import PasskeyService
from passbridge.methods.strength_policies import StrengthService
from passbridge.services.context import Env, operator
from passbridge.signin.rules import Strength
from passbridge.store.models import User, UserSession
from tests.oidc.conftest import (
    ADA,
    BASE,
    CALLBACK,
    Browser,
    RelyingParty,
    claims_of,
    csrf_of,
    issue_pass,
    query_of,
)
from tests.softkey import SoftAuthenticator
from tests.unit.session_helpers import signed_in


def _strict_rp(env: Env) -> RelyingParty:
    with env.db.transaction() as tx:
        created = ApplicationService(tx, env, operator()).register(
            "Payroll",
            permissions=[],
            redirect_uris=[CALLBACK],
            public=True,
            required_strength=Strength.PHISHING_RESISTANT_MFA,
        )
    return RelyingParty(created.application.app_id, None)


def _passkey_for(env: Env, user: User) -> SoftAuthenticator:
    key = SoftAuthenticator(BASE)
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = key.create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)
    return key


def _passkey_sign_in(browser: Browser, login_location: str, key: SoftAuthenticator) -> str:
    login = browser.client.get(login_location)
    csrf = csrf_of(login.text)
    options = browser.client.post("/login/passkey/options", data={"csrf_token": csrf}).json()
    answer = key.get(options["publicKey"])
    done = browser.client.post(
        "/login/passkey",
        data={"csrf_token": csrf, "ceremony_id": options["ceremonyId"], "credential": answer},
    )
    assert done.status_code == 303, done.text
    return done.headers["location"]


def test_a_pass_session_is_stepped_up_to_a_passkey_for_an_app_that_requires_it(
    env: Env, browser: Browser, ada: User
) -> None:
    key = _passkey_for(env, ada)
    strict = _strict_rp(env)
    browser.sign_in("/login?return_to=/apps", ADA, issue_pass(env, ADA))  # a pass session: acr mfa
    first, auth = browser.authorize(strict)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?flow=")
    resumed = browser.client.get(_passkey_sign_in(browser, first.headers["location"], key))
    code = browser.code_from(resumed, auth)
    claims = claims_of(env, browser.redeem(strict, code, auth).json()["id_token"])
    assert (claims["amr"], claims["acr"]) == (["hwk", "mfa"], "phishing-resistant-mfa")


def test_a_sign_in_that_stays_below_the_required_strength_ends_in_access_denied(
    env: Env, browser: Browser, ada: User
) -> None:
    strict = _strict_rp(env)
    first, auth = browser.authorize(strict)
    resumed = browser.client.get(browser.sign_in(first.headers["location"], ADA, issue_pass(env, ADA)))
    assert resumed.status_code == 302
    answer = query_of(resumed.headers["location"])
    assert resumed.headers["location"].startswith(CALLBACK)
    assert answer["error"] == "access_denied" and answer["state"] == auth.params["state"]
    assert (
        "AADSTS53003" in answer["error_description"]
        and "Phishing resistant MFA" in answer["error_description"]
    )
    assert "code" not in answer


def test_a_passkey_session_gets_its_code_at_once(env: Env, browser: Browser, ada: User) -> None:
    key = _passkey_for(env, ada)
    strict = _strict_rp(env)
    _passkey_sign_in(browser, "/login", key)
    response, auth = browser.authorize(strict)
    assert browser.code_from(response, auth)


def test_acr_values_ask_for_a_step_up_once_and_the_token_says_what_was_reached(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    browser.sign_in("/login?return_to=/apps", ADA, issue_pass(env, ADA))
    first, auth = browser.authorize(public_rp, acr_values="phishing-resistant-mfa")
    assert first.status_code == 303  # asked to sign in again
    resumed = browser.client.get(browser.sign_in(first.headers["location"], ADA, issue_pass(env, ADA)))
    claims = claims_of(
        env, browser.redeem(public_rp, browser.code_from(resumed, auth), auth).json()["id_token"]
    )
    assert claims["acr"] == "mfa"  # voluntary: the truth, not a refusal
    with env.db.transaction("read") as tx:
        assert len(tx.session.scalars(select(UserSession)).all()) >= 2


def _once_only_rp(env: Env) -> tuple[RelyingParty, str]:
    """An application requiring a custom strength: a one-time pass or a passkey, never a multi-use pass."""
    with env.db.transaction() as tx:
        policy = StrengthService(tx, env, operator()).create(
            "One-time pass or passkey", "", ["temporaryAccessPassOneTime", "fido2"]
        )
        created = ApplicationService(tx, env, operator()).register(
            "Payroll", permissions=[], redirect_uris=[CALLBACK], public=True, required_strength=policy.id
        )
    return RelyingParty(created.application.app_id, None), policy.id


def test_an_app_requiring_a_one_time_pass_steps_up_and_then_refuses_a_multi_use_pass(
    env: Env, browser: Browser, ada: User
) -> None:
    once_only, _ = _once_only_rp(env)
    reusable = issue_pass(env, ADA)
    browser.sign_in("/login?return_to=/apps", ADA, reusable)  # a multi-use pass session
    first, _ = browser.authorize(once_only)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?flow=")  # step up
    resumed = browser.client.get(browser.sign_in(first.headers["location"], ADA, reusable))
    answer = query_of(resumed.headers["location"])
    assert answer["error"] == "access_denied" and "One-time pass or passkey" in answer["error_description"]


def test_an_app_requiring_a_one_time_pass_admits_one_and_the_id_token_says_so(
    env: Env, browser: Browser, ada: User
) -> None:
    once_only, _ = _once_only_rp(env)
    code, auth = browser.code_for(once_only, ADA, issue_pass(env, ADA, one_time=True))
    claims = claims_of(env, browser.redeem(once_only, code, auth).json()["id_token"])
    assert (claims["amr"], claims["acr"]) == (["tap", "tap-one-time", "mfa"], "mfa")


def test_acr_values_may_name_a_custom_strength_by_id(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    _, strength_id = _once_only_rp(env)
    browser.sign_in("/login?return_to=/apps", ADA, issue_pass(env, ADA))  # multi-use
    first, auth = browser.authorize(public_rp, acr_values=strength_id)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?flow=")
    resumed = browser.client.get(
        browser.sign_in(first.headers["location"], ADA, issue_pass(env, ADA, one_time=True))
    )
    claims = claims_of(
        env, browser.redeem(public_rp, browser.code_from(resumed, auth), auth).json()["id_token"]
    )
    assert claims["amr"] == ["tap", "tap-one-time", "mfa"]
