"""Changing one's own methods through Graph needs what the security-info pages need: a multi-factor
sign-in within 10 minutes (methods/access.py). Tokens come from real sign-ins through the pages
and the code flow: an authenticator-app code alone (amr ["otp"]) or a pass (["tap", "mfa"])."""

from __future__ import annotations

from passbridge.methods import oath_queries as oath_store
from passbridge.methods import passkey_queries as passkey_store
from passbridge.methods.oath import AuthenticatorAppService
from passbridge.methods.passkeys import PasskeyService
from passbridge.passes import queries as tap_store
from passbridge.security import otp
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.factories import make_user
from tests.oidc.conftest import BASE, Browser, RelyingParty, claims_of, csrf_of, issue_pass
from tests.softkey import SoftAuthenticator
from tests.unit.session_helpers import signed_in
from tests.web.conftest import username_form

OWN_WRITE = "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite"
ALL_WRITE = "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All"


def _enrol(env: Env, user: User) -> tuple[str, str, str]:
    """A passkey and an authenticator app for `user`: (passkey id, app id, the app's secret)."""
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = SoftAuthenticator(BASE).create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)
    with env.db.transaction() as tx:
        setup = AuthenticatorAppService(tx, env, view).begin_setup()
    with env.db.transaction() as tx:
        AuthenticatorAppService(tx, env, view).finish_setup(
            setup.ceremony_id, otp.code_at(setup.secret, env.clock.now())
        )
    with env.db.transaction("read") as tx:
        passkey = passkey_store.of_user(tx, user.id)[0].id
        app = oath_store.of_user(tx, user.id)[0].id
    return passkey, app, setup.secret


def _code_token(env: Env, browser: Browser, rp: RelyingParty, upn: str, secret: str, scope: str) -> str:
    """A delegated access token from signing in with an authenticator-app code alone."""
    browser.client.cookies.clear()
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]  # the set-up spent the current step
    first, auth = browser.authorize(rp, scope=f"openid {scope}")
    assert first.status_code == 303, first.text
    login = browser.client.get(first.headers["location"])
    named = browser.client.post("/login", data=username_form(login.text, upn))
    assert named.status_code == 303, named.text
    page = browser.client.get("/login/code")
    proved = browser.client.post(
        "/login/code",
        data={"csrf_token": csrf_of(page.text), "code": otp.code_at(secret, env.clock.now())},
    )
    assert proved.status_code == 303, proved.text
    code = browser.code_from(browser.client.get(proved.headers["location"]), auth)
    answer = browser.redeem(rp, code, auth)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _pass_token(env: Env, browser: Browser, rp: RelyingParty, upn: str, scope: str) -> str:
    browser.client.cookies.clear()
    code, auth = browser.code_for(rp, upn, issue_pass(env, upn), scope=f"openid {scope}")
    answer = browser.redeem(rp, code, auth)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _methods_of(env: Env, user: User) -> tuple[int, int, bool]:
    with env.db.transaction("read") as tx:
        return (
            len(passkey_store.of_user(tx, user.id)),
            len(oath_store.of_user(tx, user.id)),
            tap_store.of_user(tx, user.id) is not None,
        )


def test_a_single_factor_token_cannot_delete_its_own_methods_through_graph(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    passkey, app, secret = _enrol(env, ada)
    held = issue_pass(env, ada.user_principal_name)
    with env.db.transaction("read") as tx:
        pass_id = tap_store.of_user(tx, ada.id).id  # type: ignore[union-attr]
    token = _code_token(env, browser, public_rp, ada.user_principal_name, secret, OWN_WRITE)
    assert claims_of(env, token)["amr"] == ["otp"]
    own = _bearer(token)
    attempts = [
        f"/v1.0/me/authentication/fido2Methods/{passkey}",
        f"/v1.0/users/{ada.id}/authentication/fido2Methods/{passkey}",
        f"/beta/me/authentication/softwareOathMethods/{app}",
        f"/v1.0/users/{ada.user_principal_name}/authentication/softwareOathMethods/{app}",
        f"/v1.0/me/authentication/temporaryAccessPassMethods/{pass_id}",
    ]
    for url in attempts:
        refused = browser.client.delete(url, headers=own)
        assert refused.status_code == 403, (url, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "accessDenied"
        assert "single-factor" in error["message"] and "multi-factor" in error["message"]
    assert _methods_of(env, ada) == (1, 1, True)
    # Looking is still allowed, as on the pages.
    listed = browser.client.get("/v1.0/me/authentication/methods", headers=own)
    assert listed.status_code == 200 and held not in listed.text


def test_a_multi_factor_token_deletes_its_own_methods_within_ten_minutes_only(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    passkey, app, _secret = _enrol(env, ada)
    token = _pass_token(env, browser, public_rp, ada.user_principal_name, OWN_WRITE)
    own = _bearer(token)
    deleted = browser.client.delete(f"/v1.0/me/authentication/fido2Methods/{passkey}", headers=own)
    assert deleted.status_code == 204, deleted.text
    env.clock.advance(minutes=11)  # type: ignore[attr-defined]
    stale = browser.client.delete(f"/v1.0/me/authentication/softwareOathMethods/{app}", headers=own)
    assert stale.status_code == 403, stale.text
    assert "within the last 10 minutes" in stale.json()["error"]["message"]
    assert _methods_of(env, ada)[:2] == (0, 1)


def test_an_administrator_acting_on_another_user_is_not_held_to_their_own_sign_in(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    passkey, _app, _secret = _enrol(env, ada)
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    token = _pass_token(env, browser, public_rp, helpdesk.user_principal_name, ALL_WRITE)
    env.clock.advance(minutes=30)  # type: ignore[attr-defined]
    deleted = browser.client.delete(
        f"/v1.0/users/{ada.id}/authentication/fido2Methods/{passkey}", headers=_bearer(token)
    )
    assert deleted.status_code == 204, deleted.text
