"""An application's sign-in that sets up a method on the way, in a real browser: headless Chromium against
a real `passbridge serve` and a small OpenID Connect relying party served by this test.

The relying party is configured with the `/organizations/v2.0` authority only; it checks that discovery
names that issuer, sends the person to sign in (code + S256 PKCE), and at its redirect URI redeems the
code itself and verifies the ID token (signature against the published keys, iss, aud, nonce) before it
says who is signed in. The person, new, arrives with a one-time pass: sign-in, "Set up your sign-in
methods", security info, add a passkey (the DevTools virtual authenticator) or an authenticator app (codes
from pyotp), then "Continue", which must land in the application signed in, not in My apps."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import Watched, cli, enter_username
from tests.web.test_passwordless_browser import Authenticator, add_passkey, new_person_with_pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(
        tmp_path_factory.mktemp("setup-return"),
        "User.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ) as store:
        yield store


@dataclass
class Wiki:
    """The relying party: its registration, the request it sent, and who it signed in."""

    authority: str
    redirect_uri: str
    client_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # state -> PKCE verifier, nonce
    signed_in: list[dict[str, Any]] = field(default_factory=list)

    def authorization_url(self) -> str:
        client = OAuth2Client(
            self.client_id,
            scope="openid profile",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )
        verifier, nonce = generate_token(48), generate_token(16)
        url, state = client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        self.pending[state] = f"{verifier} {nonce}"
        return str(url)

    def callback(self, query: str) -> str:
        """The redirect URI's work: redeem the code and verify the ID token; raises on anything wrong."""
        got = {k: v[0] for k, v in parse_qs(query).items()}
        verifier, nonce = self.pending.pop(got["state"]).split()
        client = OAuth2Client(self.client_id, redirect_uri=self.redirect_uri)
        tokens = client.fetch_token(self.metadata["token_endpoint"], code=got["code"], code_verifier=verifier)
        keys = KeySet.import_key_set(httpx.get(self.metadata["jwks_uri"]).json())
        claims = jwt.decode(tokens["id_token"], keys, algorithms=["ES256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.authority},
            aud={"essential": True, "value": self.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
        ).validate(claims)
        self.signed_in.append(claims)
        return str(claims["name"])


@contextmanager
def wiki(served: ServedStore) -> Iterator[Wiki]:
    found: list[Wiki] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/callback":  # the browser's favicon request: nothing, and no error
                self.send_response(204)
                self.end_headers()
                return
            try:
                body, status = f"<p>Signed in to the wiki as {found[0].callback(parts.query)}</p>", 200
            except Exception as exc:  # the test asserts on the page: say what failed there
                body, status = f"<p>Sign-in failed: {type(exc).__name__}: {exc}</p>", 400
            data = f"<!doctype html><title>Wiki</title>{body}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rp = Wiki(
            f"{served.base}/organizations/v2.0", f"http://localhost:{server.server_address[1]}/callback"
        )
        added = cli(
            served, "app", "add", f"Wiki {generate_token(6)}", "--public", "--redirect-uri", rp.redirect_uri
        )
        rp.client_id = re.search(r"clientId:\s+(\S+)", added).group(1)  # type: ignore[union-attr]
        rp.metadata = httpx.get(f"{rp.authority}/.well-known/openid-configuration").json()
        assert rp.metadata["issuer"] == rp.authority  # OpenID Connect Discovery 4.3
        found.append(rp)
        yield rp
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def watched(chromium: Browser, served: ServedStore, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, request.node.name.removeprefix("test_"))
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    Authenticator(context, page)
    try:
        yield w
    finally:
        context.close()


def app_sign_in_to_setup(w: Watched, served: ServedStore, rp: Wiki, upn: str, name: str) -> None:
    """From the application to "Set up your sign-in methods", with a new person's one-time pass."""
    value = new_person_with_pass(served, upn, name)
    w.page.goto(rp.authorization_url())
    enter_username(w, upn)
    w.page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    w.page.get_by_role("button", name="Sign in", exact=True).click()
    expect(w.page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    w.shot("setup-methods")


def continue_into(w: Watched, rp: Wiki, name: str) -> None:
    page = w.page
    expect(page.get_by_role("heading", name="You were signing in to an application")).to_be_visible()
    w.shot("method-added")
    page.get_by_role("link", name="Continue", exact=True).click()
    expect(page.get_by_text(f"Signed in to the wiki as {name}")).to_be_visible()
    assert page.url.startswith(rp.redirect_uri + "?code=")
    w.shot("signed-in-to-the-app")
    assert [c["name"] for c in rp.signed_in] == [name]
    w.assert_clean()


def test_passkey_set_up_during_an_app_sign_in_continues_into_the_app(
    watched: Watched, served: ServedStore
) -> None:
    w, name = watched, "Hedy Lamarr"
    with wiki(served) as rp:
        app_sign_in_to_setup(w, served, rp, "hedy@contoso.example", name)
        w.page.get_by_role("link", name="Add a passkey").click()
        expect(w.page.get_by_role("heading", name="Security info")).to_be_visible()
        add_passkey(w, "This laptop")
        continue_into(w, rp, name)
    claims = rp.signed_in[0]
    assert (claims["amr"], claims["iss"]) == (["tap", "tap-one-time", "mfa"], rp.authority)


def test_authenticator_app_set_up_during_an_app_sign_in_continues_into_the_app(
    watched: Watched, served: ServedStore
) -> None:
    w, name = watched, "Radia Perlman"
    with wiki(served) as rp:
        app_sign_in_to_setup(w, served, rp, "radia@contoso.example", name)
        page = w.page
        page.get_by_role("link", name="Set up an authenticator app").click()
        expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
        secret = page.locator("#secret").inner_text().strip()
        page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
        page.get_by_label("Name", exact=True).fill("Phone")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Your authenticator app was added.")).to_be_visible()
        continue_into(w, rp, name)
