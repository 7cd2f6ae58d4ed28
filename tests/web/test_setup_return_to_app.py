"""Registering a method during an application's sign-in leads back into the application.

App -> authorize -> pass -> "Set up your sign-in methods" -> security info -> add -> "Continue": the waiting
authorization request is carried through every page and form, and "Continue" resumes it, so the
application receives its code. What is carried is checked by the sign-in's rule at every step (a path on
this site or a registered redirect URI), so these pages never become an open redirect."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from passbridge.directory.tenant import Initialised
from passbridge.security import otp
from passbridge.services.context import Env
from tests.factories import make_app
from tests.softkey import SoftAuthenticator
from tests.web.conftest import BASE, csrf_of, issue, sign_in

CALLBACK = "http://localhost:9000/callback"
SECRET = re.compile(r'<code class="secret" id="secret">([A-Z2-7]+)</code>')
CEREMONY = re.compile(r'name="ceremony_id" value="([^"]+)"')
CONTINUE = re.compile(r'<a href="([^"]+)" class="button primary" id="continue">Continue</a>')


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def client_id(env: Env, tenant: Initialised) -> str:
    """A confidential relying party (no PKCE needed), so the test redeems its code with its secret."""
    return make_app(env, "Wiki", redirect_uris=(CALLBACK,)).application.app_id


def signed_in_from_an_app(env: Env, web: TestClient, ada: str, client_id: str) -> str:
    """The application's sign-in up to "Set up your sign-in methods"; returns the waiting request."""
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "openid",
            "state": "st-1",
            "nonce": "n-1",
        }
    )
    started = web.get(f"/oauth2/v2.0/authorize?{query}")
    assert started.status_code == 303, started.text
    proved = sign_in(web, ada, issue(env, ada).value, login_url=started.headers["location"]).proved
    assert proved.headers["location"].startswith("/setup-methods?return_to="), proved.headers["location"]
    return_to = query_of(proved.headers["location"])["return_to"]
    assert return_to.startswith("/oauth2/v2.0/authorize?")
    setup = web.get(proved.headers["location"])
    carried = html.escape(urlencode({"return_to": return_to}))
    assert f'href="/security-info?{carried}#add-passkey"' in setup.text
    assert f'href="/security-info/authenticator-app?{carried}"' in setup.text
    return return_to


def continue_into_the_app(web: TestClient, location: str, return_to: str) -> str:
    """Security info after the change shows "Continue" to the waiting request; it ends at the app."""
    page = web.get(location)
    assert page.status_code == 200
    found = CONTINUE.search(page.text)
    assert found is not None, "security info shows no Continue back into the application"
    assert html.unescape(found.group(1)) == return_to
    back = web.get(return_to)
    assert back.status_code == 302 and back.headers["location"].startswith(CALLBACK + "?"), back.text
    answer = query_of(back.headers["location"])
    assert answer["state"] == "st-1"
    return answer["code"]


def test_an_authenticator_app_added_during_an_app_sign_in_continues_into_the_app_with_a_code(
    env: Env, web: TestClient, ada: str, client_id: str
) -> None:
    return_to = signed_in_from_an_app(env, web, ada, client_id)
    setup = web.get(f"/security-info/authenticator-app?{urlencode({'return_to': return_to})}")
    assert setup.status_code == 200
    secret = SECRET.search(setup.text).group(1)  # type: ignore[union-attr]
    done = web.post(
        "/security-info/authenticator-app",
        data={
            "csrf_token": csrf_of(setup.text),
            "ceremony_id": CEREMONY.search(setup.text).group(1),  # type: ignore[union-attr]
            "code": otp.code_at(secret, env.clock.now()),
            "name": "Phone",
            "return_to": return_to,
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/security-info?{urlencode({'done': 'app', 'return_to': return_to})}"
    code = continue_into_the_app(web, done.headers["location"], return_to)
    assert len(code) == 48


def test_a_passkey_added_during_an_app_sign_in_continues_into_the_app_with_a_code(
    env: Env, web: TestClient, ada: str, client_id: str
) -> None:
    return_to = signed_in_from_an_app(env, web, ada, client_id)
    page = web.get(f"/security-info?{urlencode({'return_to': return_to})}")
    csrf = csrf_of(page.text)
    assert f'name="return_to" value="{html.escape(return_to)}"' in page.text
    options = web.post(
        "/security-info/passkeys/options", data={"csrf_token": csrf, "return_to": return_to}
    ).json()
    done = web.post(
        "/security-info/passkeys",
        data={
            "csrf_token": csrf,
            "ceremony_id": options["ceremonyId"],
            "credential": SoftAuthenticator(BASE).create(options["publicKey"]),
            "name": "Laptop",
            "return_to": return_to,
        },
    )
    assert done.status_code == 303
    assert (
        done.headers["location"] == f"/security-info?{urlencode({'done': 'passkey', 'return_to': return_to})}"
    )
    continue_into_the_app(web, done.headers["location"], return_to)


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_security_info_drops_a_return_to_the_sign_in_rule_refuses(
    env: Env, web: TestClient, ada: str, elsewhere: str
) -> None:
    sign_in(web, ada, issue(env, ada).value)
    page = web.get(f"/security-info?{urlencode({'return_to': elsewhere})}")
    assert page.status_code == 200 and CONTINUE.search(page.text) is None
    assert "evil" not in page.text and "javascript:" not in page.text
    setup = web.get(f"/security-info/authenticator-app?{urlencode({'return_to': elsewhere})}")
    secret = SECRET.search(setup.text).group(1)  # type: ignore[union-attr]
    done = web.post(
        "/security-info/authenticator-app",
        data={
            "csrf_token": csrf_of(setup.text),
            "ceremony_id": CEREMONY.search(setup.text).group(1),  # type: ignore[union-attr]
            "code": otp.code_at(secret, env.clock.now()),
            "return_to": elsewhere,
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/security-info?done=app")


def test_a_late_change_sends_the_person_to_sign_in_again_with_the_application_sign_in_kept(
    env: Env, web: TestClient, ada: str, client_id: str
) -> None:
    return_to = signed_in_from_an_app(env, web, ada, client_id)
    env.clock.advance(minutes=11)  # type: ignore[attr-defined]
    setup = web.get(f"/security-info/authenticator-app?{urlencode({'return_to': return_to})}")
    assert setup.status_code == 303
    back = f"/security-info?{urlencode({'return_to': return_to})}"
    assert setup.headers["location"] == f"/login?{urlencode({'return_to': back})}"
