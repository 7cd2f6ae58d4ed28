"""Security info pages: listing, adding (passkey through the options endpoint, authenticator app through
plain forms), renaming and removing methods, with CSRF, re-authentication and confirmation."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.security import otp
from passbridge.services.context import Env
from passbridge.store.models import Ceremony, Fido2Credential, SoftwareOathMethod
from tests.softkey import SoftAuthenticator
from tests.web.conftest import BASE, browser, csrf_of, issue, sign_in

SECRET = re.compile(r'<code class="secret" id="secret">([A-Z2-7]+)</code>')
CEREMONY = re.compile(r'name="ceremony_id" value="([^"]+)"')
SINGLE_FACTOR_HINT = "sign in again with a passkey or a Temporary Access Pass"


def _count(env: Env, table: type) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(table)) or 0)


def _signed_in(env: Env, web: TestClient, ada: str) -> str:
    steps = sign_in(web, ada, issue(env, ada).value)
    assert steps.proved.status_code == 303
    page = web.get("/security-info")
    assert page.status_code == 200
    return csrf_of(page.text)


def _add_passkey(web: TestClient, csrf: str, key: SoftAuthenticator, name: str = "Laptop") -> None:
    options = web.post("/security-info/passkeys/options", data={"csrf_token": csrf})
    assert options.status_code == 200, options.text
    data = options.json()
    answer = key.create(data["publicKey"])
    done = web.post(
        "/security-info/passkeys",
        data={"csrf_token": csrf, "ceremony_id": data["ceremonyId"], "credential": answer, "name": name},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/security-info?done=passkey"), done.text


def test_security_info_needs_a_session(web: TestClient) -> None:
    response = web.get("/security-info")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?return_to=")


def test_a_passkey_added_from_security_info_is_listed_with_its_name(
    env: Env, web: TestClient, ada: str
) -> None:
    csrf = _signed_in(env, web, ada)
    _add_passkey(web, csrf, SoftAuthenticator(BASE), name="Work laptop")
    page = web.get("/security-info?done=passkey")
    assert "Your passkey was added" in page.text and "Work laptop" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_passkey_options_refuse_a_foreign_csrf_token(env: Env, web: TestClient, ada: str) -> None:
    _signed_in(env, web, ada)
    response = web.post("/security-info/passkeys/options", data={"csrf_token": "not-ours"})
    assert response.status_code == 401
    assert _count(env, Ceremony) == 0


def test_a_passkey_answer_from_another_origin_changes_nothing(env: Env, web: TestClient, ada: str) -> None:
    csrf = _signed_in(env, web, ada)
    data = web.post("/security-info/passkeys/options", data={"csrf_token": csrf}).json()
    answer = SoftAuthenticator("https://evil.example").create(data["publicKey"])
    response = web.post(
        "/security-info/passkeys",
        data={"csrf_token": csrf, "ceremony_id": data["ceremonyId"], "credential": answer},
    )
    assert response.status_code == 400 and "Nothing was changed" in response.text
    assert _count(env, Fido2Credential) == 0


def test_an_authenticator_app_is_added_with_a_valid_code_after_a_wrong_one(
    env: Env, web: TestClient, ada: str
) -> None:
    csrf = _signed_in(env, web, ada)
    setup = web.get("/security-info/authenticator-app")
    assert setup.status_code == 200 and "<svg" in setup.text
    secret = SECRET.search(setup.text).group(1)  # type: ignore[union-attr]
    ceremony = CEREMONY.search(setup.text).group(1)  # type: ignore[union-attr]
    wrong = web.post(
        "/security-info/authenticator-app",
        data={"csrf_token": csrf, "ceremony_id": ceremony, "code": "000000", "name": "Phone"},
    )
    assert wrong.status_code == 400 and "Enter the 6-digit code your app shows now" in wrong.text
    assert SECRET.search(wrong.text).group(1) == secret  # type: ignore[union-attr]
    code = otp.code_at(secret, env.clock.now())
    done = web.post(
        "/security-info/authenticator-app",
        data={"csrf_token": csrf, "ceremony_id": ceremony, "code": code, "name": "Phone"},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/security-info?done=app")
    listing = web.get("/security-info")
    assert "Phone" in listing.text and secret not in listing.text
    assert _count(env, SoftwareOathMethod) == 1


def test_removing_the_last_method_asks_for_confirmation(env: Env, web: TestClient, ada: str) -> None:
    csrf = _signed_in(env, web, ada)
    _add_passkey(web, csrf, SoftAuthenticator(BASE))
    with env.db.transaction("read") as tx:
        passkey_id = tx.session.scalars(select(Fido2Credential.id)).one()
    asked = web.post(f"/security-info/passkey/{passkey_id}/delete", data={"csrf_token": csrf})
    assert asked.status_code == 200 and "Remove your last sign-in method?" in asked.text
    assert _count(env, Fido2Credential) == 1
    done = web.post(
        f"/security-info/passkey/{passkey_id}/delete", data={"csrf_token": csrf, "confirm": "yes"}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/security-info?done=deleted")
    assert _count(env, Fido2Credential) == 0


def test_rename_changes_the_listed_name(env: Env, web: TestClient, ada: str) -> None:
    csrf = _signed_in(env, web, ada)
    _add_passkey(web, csrf, SoftAuthenticator(BASE), name="Old")
    with env.db.transaction("read") as tx:
        passkey_id = tx.session.scalars(select(Fido2Credential.id)).one()
    done = web.post(
        f"/security-info/passkey/{passkey_id}/rename", data={"csrf_token": csrf, "name": "YubiKey"}
    )
    assert done.status_code == 303
    assert "YubiKey" in web.get("/security-info").text


def test_changes_after_ten_minutes_send_the_person_to_sign_in_again(
    env: Env, web: TestClient, ada: str
) -> None:
    csrf = _signed_in(env, web, ada)
    env.clock.advance(minutes=11)  # type: ignore[attr-defined]
    options = web.post("/security-info/passkeys/options", data={"csrf_token": csrf})
    assert options.status_code == 401 and options.json()["location"] == "/login?return_to=/security-info"
    setup = web.get("/security-info/authenticator-app")
    assert (setup.status_code, setup.headers["location"]) == (303, "/login?return_to=/security-info")
    assert _count(env, Ceremony) == 0


def _signed_in_with_a_code(env: Env, client: TestClient, upn: str, secret: str) -> str:
    """Sign in through the pages with an authenticator-app code alone; the session's CSRF token."""
    env.clock.advance(seconds=30)  # type: ignore[attr-defined]  # the set-up spent the current step
    login = client.get("/login")
    identified = client.post("/login", data={"csrf_token": csrf_of(login.text), "username": upn})
    assert identified.status_code == 303
    code_page = client.get("/login/code")
    proved = client.post(
        "/login/code",
        data={"csrf_token": csrf_of(code_page.text), "code": otp.code_at(secret, env.clock.now())},
    )
    assert proved.status_code == 303, proved.text
    return csrf_of(client.get("/security-info").text)


def test_a_code_only_session_sees_its_methods_and_is_told_to_sign_in_with_a_passkey_or_pass(
    env: Env, web: TestClient, ada: str
) -> None:
    """Single-factor sessions change nothing (Entra asks for MFA to register security info): a passkey
    added from a code alone would meet phishing-resistant MFA, and removing the owner's passkey would leave
    them nothing stronger than the attacker's code."""
    csrf = _signed_in(env, web, ada)
    _add_passkey(web, csrf, SoftAuthenticator(BASE), name="Laptop")
    setup = web.get("/security-info/authenticator-app")
    secret = SECRET.search(setup.text).group(1)  # type: ignore[union-attr]
    ceremony = CEREMONY.search(setup.text).group(1)  # type: ignore[union-attr]
    web.post(
        "/security-info/authenticator-app",
        data={"csrf_token": csrf, "ceremony_id": ceremony, "code": otp.code_at(secret, env.clock.now())},
    )
    with env.db.transaction("read") as tx:
        passkey_id = tx.session.scalars(select(Fido2Credential.id)).one()
        app_id = tx.session.scalars(select(SoftwareOathMethod.id)).one()
    ceremonies_before = _count(env, Ceremony)

    with browser(env) as other:
        csrf = _signed_in_with_a_code(env, other, ada, secret)
        listing = other.get("/security-info")
        assert listing.status_code == 200 and "Laptop" in listing.text
        assert SINGLE_FACTOR_HINT in listing.text
        assert 'href="/login?return_to=/security-info"' in listing.text
        assert "Add a passkey" not in listing.text and "/rename" not in listing.text

        options = other.post("/security-info/passkeys/options", data={"csrf_token": csrf})
        assert options.status_code == 403 and SINGLE_FACTOR_HINT in options.json()["error"]
        app_setup = other.get("/security-info/authenticator-app")
        assert app_setup.status_code == 403 and SINGLE_FACTOR_HINT in app_setup.text
        for kind, method_id in (("passkey", passkey_id), ("app", app_id)):
            removed = other.post(
                f"/security-info/{kind}/{method_id}/delete", data={"csrf_token": csrf, "confirm": "yes"}
            )
            assert removed.status_code == 403 and SINGLE_FACTOR_HINT in removed.text
            renamed = other.post(
                f"/security-info/{kind}/{method_id}/rename", data={"csrf_token": csrf, "name": "Mine now"}
            )
            assert renamed.status_code == 403 and SINGLE_FACTOR_HINT in renamed.text

    assert (_count(env, Fido2Credential), _count(env, SoftwareOathMethod)) == (1, 1)
    assert _count(env, Ceremony) == ceremonies_before
    assert "Mine now" not in web.get("/security-info").text
