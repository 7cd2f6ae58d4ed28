"""Passwordless in a real browser: headless Chromium (Playwright, Debian's /usr/bin/chromium) with the
DevTools WebAuthn virtual authenticator (CTAP2, internal transport, resident keys, user verification)
against a real `passbridge serve`.

Onboarding: an administrator creates a person and a pass through the Graph API; the person signs in with
the pass, registers a passkey, signs out, signs in with the passkey alone, and an OpenID Connect relying
party (Authlib's client, code + PKCE) receives an ID token that says passkey and phishing-resistant.
Authenticator app: the secret is read off the page and codes computed with pyotp; a replayed code is
refused. Failed ceremonies (cancelled) change nothing and can be retried.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pyotp
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import Watched, cli, enter_username

GRACE = "grace@contoso.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(
        tmp_path_factory.mktemp("passwordless"),
        "User.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ) as store:
        yield store


class Authenticator:
    """Chromium's virtual platform authenticator for one page, through the DevTools protocol."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp: CDPSession = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        added = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.id: str = added["authenticatorId"]

    def verified(self, yes: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": yes})

    def credentials(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})[
            "credentials"
        ]
        return found


@pytest.fixture
def session(
    chromium: Browser, served: ServedStore, request: pytest.FixtureRequest
) -> Iterator[tuple[Watched, Authenticator]]:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, request.node.name.removeprefix("test_"))
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    try:
        yield w, Authenticator(context, page)
    finally:
        context.close()


def graph(served: ServedStore) -> httpx.Client:
    return httpx.Client(
        base_url=f"{served.base}/v1.0", headers={"Authorization": f"Bearer {served.app_token()}"}
    )


def new_person_with_pass(served: ServedStore, upn: str, name: str) -> str:
    """What an HR script does: create the person and a one-time pass through Graph."""
    with graph(served) as api:
        created = api.post(
            "/users",
            json={
                "accountEnabled": True,
                "displayName": name,
                "mailNickname": upn.split("@")[0],
                "userPrincipalName": upn,
                "passwordProfile": {"forceChangePasswordNextSignIn": False, "password": "unused-1!"},
            },
        )
        assert created.status_code == 201, created.text
        issued = api.post(
            f"/users/{upn}/authentication/temporaryAccessPassMethods", json={"isUsableOnce": True}
        )
        assert issued.status_code == 201, issued.text
        value: str = issued.json()["temporaryAccessPass"]
        return value


def sign_in_with_pass(w: Watched, upn: str, value: str) -> None:
    page = w.page
    page.goto("/apps")
    enter_username(w, upn)
    page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # New people have no method yet: every pass sign-in here lands on set-up first.
    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()


def add_passkey(w: Watched, name: str) -> None:
    page = w.page
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Your passkey was added.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(f"Passkey {name}"))).to_be_visible()
    page.wait_for_load_state("networkidle")


def sign_out(w: Watched) -> None:
    w.page.get_by_role("button", name="Sign out").click()
    expect(w.page.get_by_role("heading", name="You're signed out")).to_be_visible()
    w.page.get_by_role("link", name="Sign in again").click()
    expect(w.page).to_have_url(re.compile(r"/login$"))


def test_onboarding_pass_then_passkey_then_passwordless_sign_in_to_an_app(
    session: tuple[Watched, Authenticator], served: ServedStore
) -> None:
    w, authenticator = session
    page = w.page
    value = new_person_with_pass(served, GRACE, "Grace Hopper")

    sign_in_with_pass(w, GRACE, value)
    w.shot("setup-methods")
    page.get_by_role("link", name="Add a passkey").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    w.shot("security-info-empty")
    add_passkey(w, "This laptop")
    w.shot("passkey-added")
    assert len(authenticator.credentials()) == 1
    assert authenticator.credentials()[0]["isResidentCredential"] is True
    sign_out(w)

    # Passwordless: no username typed, the browser offers the passkey it holds.
    expect(page.get_by_label("Username")).to_have_value("")
    w.shot("login-with-passkey")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(f"{served.base}/apps")
    expect(page.get_by_text("Grace Hopper").first).to_be_visible()
    w.shot("signed-in-with-passkey")

    # A relying party signs the same person in: the session's passkey proof reaches its ID token.
    token = relying_party_sign_in(page, served)
    assert token["amr"] == ["hwk", "mfa"]
    assert token["acr"] == "phishing-resistant-mfa"

    # Signed out, the app's own sign-in request leads through the passkey and straight back to it.
    page.goto("/apps")
    sign_out(w)
    token = relying_party_sign_in(page, served, signed_in=False)
    assert (token["amr"], token["acr"]) == (["hwk", "mfa"], "phishing-resistant-mfa")
    assert len(authenticator.credentials()) == 1 and authenticator.credentials()[0]["signCount"] >= 3
    w.assert_clean()


@contextmanager
def callback_server() -> Iterator[tuple[str, list[str]]]:
    """The relying party's redirect URI: a real HTTP server on loopback that records what arrives."""
    landed: list[str] = []

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            landed.append(self.path)
            body = b"<!doctype html><title>Wiki</title><p>Signed in to the wiki</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/callback", landed
    finally:
        server.shutdown()
        server.server_close()


def relying_party_sign_in(page: Page, served: ServedStore, *, signed_in: bool = True) -> dict[str, Any]:
    """Authlib's OAuth 2.0 client as a public client with S256 PKCE; the browser carries the request.
    Not `signed_in`: the provider shows its sign-in page first, where the person uses their passkey."""
    with callback_server() as (redirect_uri, landed):
        added = cli(
            served, "app", "add", f"Wiki {generate_token(6)}", "--public", "--redirect-uri", redirect_uri
        )
        client_id = re.search(r"clientId:\s+(\S+)", added).group(1)  # type: ignore[union-attr]
        client = OAuth2Client(
            client_id, scope="openid profile", redirect_uri=redirect_uri, code_challenge_method="S256"
        )
        verifier, nonce = generate_token(48), generate_token(16)
        url, state = client.create_authorization_url(
            f"{served.base}/oauth2/v2.0/authorize", code_verifier=verifier, nonce=nonce
        )
        page.goto(url)
        if not signed_in:
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_text("Signed in to the wiki")).to_be_visible()
        # Chromium asks the app for /favicon.ico after the page shows; closing the app before that
        # answer resets the connection, which the watched page reports as an error.
        page.wait_for_load_state("networkidle")
    assert landed, "the provider never redirected back to the app"
    tokens = client.fetch_token(
        f"{served.base}/oauth2/v2.0/token",
        authorization_response=redirect_uri + landed[0].removeprefix("/callback"),
        code_verifier=verifier,
    )
    keys = KeySet.import_key_set(httpx.get(f"{served.base}/discovery/v2.0/keys").json())
    claims: dict[str, Any] = jwt.decode(tokens["id_token"], keys).claims
    assert claims["aud"] == client_id and claims["nonce"] == nonce
    assert f"state={state}" in landed[0]
    return claims


def test_a_cancelled_passkey_request_changes_nothing_and_can_be_retried(
    session: tuple[Watched, Authenticator], served: ServedStore
) -> None:
    w, authenticator = session
    page = w.page
    upn = "katherine@contoso.example"
    sign_in_with_pass(w, upn, new_person_with_pass(served, upn, "Katherine Johnson"))
    page.goto("/security-info")
    authenticator.verified(False)  # the person dismisses the prompt: the browser answers NotAllowedError
    page.get_by_role("button", name="Add a passkey").click()
    expect(
        page.get_by_text("The passkey request was cancelled or timed out. Nothing was changed")
    ).to_be_visible()
    w.shot("passkey-cancelled")
    assert authenticator.credentials() == []
    # The one-time pass was used to sign in: it is history, not a method.
    expect(page.get_by_text("You have no sign-in methods yet", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name="Passes you can no longer use")).to_be_visible()
    authenticator.verified(True)
    add_passkey(w, "Retry")
    w.assert_clean()


def test_authenticator_app_set_up_from_the_page_then_sign_in_with_a_code_and_no_replay(
    session: tuple[Watched, Authenticator], served: ServedStore
) -> None:
    w, _ = session
    page = w.page
    upn = "dorothy@contoso.example"
    sign_in_with_pass(w, upn, new_person_with_pass(served, upn, "Dorothy Vaughan"))
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    w.shot("authenticator-app-setup")
    secret = page.locator("#secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_label("Name", exact=True).fill("Phone")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your authenticator app was added.")).to_be_visible()
    assert secret not in page.content()
    w.shot("authenticator-app-added")
    sign_out(w)

    # The set-up code's time step is spent: sign in with the next step's code (within the drift).
    code = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    page.goto("/login")
    enter_username(w, upn)
    page.get_by_role("link", name="Use a code from your authenticator app").click()
    page.get_by_label("Code", exact=True).fill(code)
    w.shot("code")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{served.base}/apps")
    sign_out(w)

    page.goto("/login")
    enter_username(w, upn)
    page.get_by_role("link", name="Use a code from your authenticator app").click()
    w.allowed.add(("/login/code", 401))
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text("That code didn't work.")).to_be_visible()
    w.shot("code-replayed")
    w.assert_clean()


def test_recovery_after_a_lost_device_old_passkey_refused_new_one_registered(
    chromium: Browser, session: tuple[Watched, Authenticator], served: ServedStore
) -> None:
    lost, _ = session
    upn = "mary@contoso.example"
    sign_in_with_pass(lost, upn, new_person_with_pass(served, upn, "Mary Jackson"))
    lost.page.goto("/security-info")
    add_passkey(lost, "Old phone")

    # The helpdesk removes the lost passkey and issues a recovery pass, through Graph as a script would.
    with graph(served) as api:
        listed = api.get(f"/users/{upn}/authentication/fido2Methods").json()["value"]
        assert [m["displayName"] for m in listed] == ["Old phone"]
        assert api.delete(f"/users/{upn}/authentication/fido2Methods/{listed[0]['id']}").status_code == 204
        recovery = api.post(f"/users/{upn}/authentication/temporaryAccessPassMethods", json={})
        assert recovery.status_code == 201, recovery.text
        value = recovery.json()["temporaryAccessPass"]

    # On the lost device: its session has ended, and its passkey no longer signs in.
    lost.page.goto("/apps")
    expect(lost.page).to_have_url(re.compile(r"/login\?return_to=/apps$"))
    lost.allowed.add(("/login/passkey", 401))
    lost.page.get_by_role("button", name="Sign in with a passkey").click()
    expect(lost.page.get_by_text("That passkey didn't work.")).to_be_visible()
    lost.shot("old-passkey-refused")
    lost.assert_clean()

    # On the new device: the recovery pass, a new passkey, then passwordless again.
    context = chromium.new_context(base_url=served.base, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        new = Watched(page, "recovery-new-device")
        page.on("console", new.on_console)
        page.on("response", new.on_response)
        page.on("requestfailed", new.on_failed)
        Authenticator(context, page)
        sign_in_with_pass(new, upn, value)
        page.get_by_role("link", name="Add a passkey").click()
        add_passkey(new, "New phone")
        expect(page.get_by_text("Old phone")).to_have_count(0)
        new.shot("new-passkey")
        sign_out(new)
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page).to_have_url(f"{served.base}/apps")
        new.assert_clean()
    finally:
        context.close()
