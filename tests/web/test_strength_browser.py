"""A custom authentication strength through every real edge: Microsoft's Graph SDK creates it (a one-time
pass or a passkey, no multi-use pass), the CLI makes an application require it, an administrator sees it
in the portal, and headless Chromium signs in to the application against a real `passbridge serve`: a
multi-use pass session is asked to sign in again and then refused; a one-time pass gets in, and the ID
token's `amr` says which kind of pass it was. The screenshots illustrate docs/authentication-strengths.md."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from msgraph.generated.models.authentication_method_modes import AuthenticationMethodModes
from msgraph.generated.models.authentication_strength_policy import AuthenticationStrengthPolicy
from playwright.sync_api import Browser, expect

from tests.api.test_msgraph_sdk import graph_client
from tests.servers import ServedStore, served_store
from tests.web.browser import ADMIN, Watched, cli, enter_username, issue_pass
from tests.web.test_setup_return_browser import Wiki

BOB = "bob.multi@contoso.example"
CAROL = "carol.once@contoso.example"
STRENGTH = "One-time pass or passkey"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("strengths"), "Policy.ReadWrite.AuthenticationMethod") as store:
        cli(store, "user", "add", BOB, "--display-name", "Bob Multi")
        cli(store, "user", "add", CAROL, "--display-name", "Carol Once")
        yield store


def create_strength_with_the_sdk(served: ServedStore) -> str:
    client = graph_client(served.base, served.app_token())

    async def create() -> str:
        created = await client.policies.authentication_strength_policies.post(
            AuthenticationStrengthPolicy(
                display_name=STRENGTH,
                description="Payroll: a one-time pass or a passkey; never a multi-use pass",
                allowed_combinations=[
                    AuthenticationMethodModes.TemporaryAccessPassOneTime,
                    AuthenticationMethodModes.Fido2,
                ],
            )
        )
        assert created is not None and created.id and created.policy_type is not None
        assert created.policy_type.value == "custom"
        read = await client.policies.authentication_strength_policies.by_authentication_strength_policy_id(
            created.id
        ).get()
        assert read is not None and read.allowed_combinations == [
            AuthenticationMethodModes.TemporaryAccessPassOneTime,
            AuthenticationMethodModes.Fido2,
        ]
        return created.id

    # Playwright's sync API runs an event loop in this thread: the SDK gets its own thread and loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, create()).result()


@contextmanager
def payroll(served: ServedStore, strength_id: str) -> Iterator[Wiki]:
    """The relying party (tests/web/test_setup_return_browser.py's, which verifies the ID token), at a
    redirect URI that also shows a refusal; registered and made to require the strength with the CLI."""
    found: list[Wiki] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            got = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path != "/callback":
                self.send_response(204)
                self.end_headers()
                return
            if "error" in got:
                reason = f"{got['error']}: {got.get('error_description')}"
                body = f"<h1>Payroll refused the sign-in</h1><p>{reason}</p>"
            else:
                body = f"<h1>Payroll</h1><p>Signed in to Payroll as {found[0].callback(parts.query)}</p>"
            data = f"<!doctype html><title>Payroll</title>{body}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rp = Wiki(
            f"{served.base}/organizations/v2.0", f"http://localhost:{server.server_address[1]}/callback"
        )
        added = json.loads(
            cli(served, "app", "add", "Payroll", "--public", "--redirect-uri", rp.redirect_uri, "--json")
        )
        rp.client_id = added["clientId"]
        updated = json.loads(
            cli(served, "app", "update", rp.client_id, "--require-strength", STRENGTH, "--json")
        )
        assert updated["requiredStrength"] == {"id": strength_id, "displayName": STRENGTH}
        rp.metadata = httpx.get(f"{rp.authority}/.well-known/openid-configuration").json()
        found.append(rp)
        yield rp
    finally:
        server.shutdown()
        server.server_close()


def _watched(chromium: Browser, served: ServedStore, story: str) -> Watched:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    return w


def _pass_sign_in(w: Watched, upn: str, value: str) -> None:
    """From the sign-in page to wherever it was going, past "Set up your sign-in methods"."""
    enter_username(w, upn)
    _pass(w, value)


def _pass(w: Watched, value: str) -> None:
    w.page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    w.page.get_by_role("button", name="Sign in", exact=True).click()
    expect(w.page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    w.page.get_by_role("link", name="Continue").click()


def test_an_app_requiring_a_custom_strength_refuses_a_multi_use_pass_and_admits_a_one_time_pass(
    chromium: Browser, served: ServedStore
) -> None:
    strength_id = create_strength_with_the_sdk(served)
    listed = cli(served, "strength", "list")
    assert f"{strength_id}  custom    {STRENGTH}: temporaryAccessPassOneTime, fido2" in listed
    with payroll(served, strength_id) as rp:
        # Bob, signed in with a multi-use pass, opens Payroll: he is asked to sign in again.
        bob = _watched(chromium, served, "strength-multi-use")
        multi = issue_pass(served, BOB, one_time=False)
        bob.page.goto("/login?return_to=/apps")
        _pass_sign_in(bob, BOB, multi)
        expect(bob.page.get_by_role("heading", name="My apps")).to_be_visible()
        bob.page.goto(rp.authorization_url())
        expect(bob.page.get_by_role("heading", name="Sign in")).to_be_visible()
        assert "/login" in bob.page.url
        bob.shot("asked-to-sign-in-again")
        # The same multi-use pass again does not satisfy the strength: Payroll is told access_denied.
        # The sign-in page knows who is signing in again: the username is filled in already.
        expect(bob.page.get_by_label("Username")).to_have_value(BOB)
        bob.page.get_by_role("button", name="Next").click()
        _pass(bob, multi)
        expect(bob.page.get_by_role("heading", name="Payroll refused the sign-in")).to_be_visible()
        expect(bob.page.get_by_text(f"authentication strength '{STRENGTH}'")).to_be_visible()
        bob.shot("refused")
        assert rp.signed_in == []
        bob.assert_clean()

        # Carol signs in with a one-time pass and gets in; her ID token says it was a one-time pass.
        carol = _watched(chromium, served, "strength-one-time")
        carol.page.goto(rp.authorization_url())
        _pass_sign_in(carol, CAROL, issue_pass(served, CAROL, one_time=True))
        expect(carol.page.get_by_text("Signed in to Payroll as Carol Once")).to_be_visible()
        carol.shot("admitted")
        assert [c["amr"] for c in rp.signed_in] == [["tap", "tap-one-time", "mfa"]]
        carol.assert_clean()


def test_the_portal_shows_the_tenants_strengths_for_an_application(
    chromium: Browser, served: ServedStore
) -> None:
    added = json.loads(
        cli(
            served,
            "app",
            "add",
            "Timesheets",
            "--public",
            "--redirect-uri",
            "https://t.contoso.example/cb",
            "--json",
        )
    )
    cli(
        served,
        "strength",
        "add",
        "Passkey or one-time pass",
        "--allow",
        "fido2",
        "--allow",
        "temporaryAccessPassOneTime",
    )
    w = _watched(chromium, served, "strength-portal")
    page = w.page
    page.goto(f"/admin/apps/{added['clientId']}")
    _pass_sign_in(w, ADMIN, issue_pass(served, ADMIN, one_time=False))
    expect(page.get_by_role("heading", name="Timesheets")).to_be_visible()
    choice = page.get_by_label("Sign-in strength it requires")
    choice.select_option(label="Passkey or one-time pass (passkey, one-time pass)")
    w.shot("choose-strength")
    page.get_by_role("button", name="Save strength").click()
    expect(page.get_by_role("status")).to_contain_text("Passkey or one-time pass")
    w.shot("strength-saved")
    shown = json.loads(cli(served, "app", "update", added["clientId"], "--require-strength", "mfa", "--json"))
    assert shown["requiredStrength"]["displayName"] == "Multifactor authentication"
    w.assert_clean()
