"""The pages as a new person meets them, in headless Chromium at a desktop width (1000 px) and a small
phone's (360 px): nothing wider than the screen (a very long username included), the top bar whole, the
sign-out and error pages in the site's look, and a passkey sign-in on a device without one told the truth.
Every page is saved to build/screenshots/ (`polish-<width>-...`)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.servers import PASSBRIDGE, ServedStore, free_port, initialised_store, served_store, serving
from tests.web.browser import Watched, cli, enter_username, issue_pass
from tests.web.test_passwordless_browser import Authenticator

# Sixty-odd characters with no space to break at: the kind of name that used to push pages sideways.
LONG_UPN = "maximilian.featherstonehaugh-wolfeschlegelsteinhausen@contoso.example"
LONG_NAME = "Maximilian Featherstonehaugh-Wolfeschlegelsteinhausenbergerdorff"
NEW = "noor@contoso.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("polish")) as store:
        cli(store, "user", "add", LONG_UPN, "--display-name", LONG_NAME)
        cli(store, "user", "add", NEW, "--display-name", "Noor Inayat")
        yield store


@contextmanager
def watched(chromium: Browser, served: ServedStore, story: str, width: int) -> Iterator[Watched]:
    context = chromium.new_context(base_url=served.base, viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    try:
        yield w
    finally:
        context.close()


def fits(page: Page, width: int) -> None:
    """Nothing on the page is wider than the window, nothing sticks out of its right edge, and nothing
    in the main card or panel sticks out past its padding (nor a badge out of its method's card)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    overflowing = page.evaluate(
        """(width) => {
             const main = document.querySelector('main');
             const padding = parseFloat(getComputedStyle(main).paddingRight);
             const inner = main.getBoundingClientRect().right - padding;
             const out = (e, edge) => e.getBoundingClientRect().right > edge + 0.5;
             return [...document.querySelectorAll('body *')]
               .filter((e) => out(e, width) || (e !== main && main.contains(e) && out(e, inner))
                 || (e.matches('.badge') && out(e, e.closest('li, main').getBoundingClientRect().right)))
               .map((e) => e.tagName + '.' + e.className);
           }""",
        width,
    )
    assert overflowing == []


def labelled(page: Page) -> None:
    """Every control a person can reach has a name a screen reader says: a <label>, aria-label(ledby),
    or, for buttons and links, its text."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
             .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label')
                              || e.getAttribute('aria-labelledby') || e.textContent.trim()))
             .map((e) => e.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []


def fits_and_labelled(page: Page, width: int) -> None:
    fits(page, width)
    labelled(page)


@pytest.mark.parametrize("width", [1000, 360])
def test_every_page_fits_the_window_with_a_very_long_username(
    chromium: Browser, served: ServedStore, width: int
) -> None:
    value = issue_pass(served, LONG_UPN, one_time=False)
    with watched(chromium, served, f"polish-{width}", width) as w:
        page = w.page
        page.goto("/login")
        fits_and_labelled(page, width)
        w.shot("login")
        enter_username(w, LONG_UPN)
        badge = page.locator(".identity")
        expect(badge).to_contain_text(LONG_UPN)
        card = page.locator("main.card").bounding_box()
        box = badge.bounding_box()
        assert card is not None and box is not None and box["x"] + box["width"] <= card["x"] + card["width"]
        fits_and_labelled(page, width)
        w.shot("pass")
        page.get_by_label("Temporary Access Pass", exact=True).fill(value)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
        fits_and_labelled(page, width)
        w.shot("setup-methods")

        page.goto("/apps")
        expect(page.get_by_role("heading", name="My apps")).to_be_visible()
        # The top bar: brand, both links, who and Sign out, all inside the window and reachable by Tab.
        bar = page.locator("header.topbar")
        for control in (
            bar.get_by_role("link", name="My apps"),
            bar.get_by_role("link", name="Security info"),
            bar.get_by_role("button", name="Sign out"),
        ):
            expect(control).to_be_in_viewport()
        fits_and_labelled(page, width)
        w.shot("my-apps")
        page.goto("/security-info")
        fits_and_labelled(page, width)
        w.shot("security-info")
        page.get_by_role("link", name="Set up an authenticator app").click()
        expect(page.get_by_label("Code from the app")).to_be_visible()
        # The whole QR code is drawn: its modules (the path) lie inside the picture's viewBox, and the
        # picture inside the page. (Drawn at a fixed size it was cut to its top-left corner.)
        drawn = page.evaluate(
            """() => { const svg = document.querySelector('figure.qr svg');
                       const box = svg.querySelector('path').getBBox(); const view = svg.viewBox.baseVal;
                       return [view.width > 0, box.x * 5 + box.width * 5 <= view.width,
                               box.y * 5 + box.height * 5 <= view.height]; }"""
        )
        assert drawn == [True, True, True]
        fits_and_labelled(page, width)
        w.shot("authenticator-app")

        page.goto("/login")
        expect(page.get_by_role("heading", name="You're signed in")).to_be_visible()
        fits_and_labelled(page, width)
        w.shot("login-signed-in")
        page.get_by_role("link", name="Use another account").click()
        expect(page.get_by_label("Username")).to_have_value("")
        fits_and_labelled(page, width)
        w.shot("login-another-account")
        page.go_back()
        page.get_by_role("link", name="Continue").click()
        expect(page).to_have_url(f"{served.base}/apps")

        w.allowed.add(("/no-such-page", 404))
        page.goto("/no-such-page")
        expect(page.get_by_role("heading", name="We can't find that page")).to_be_visible()
        fits_and_labelled(page, width)
        w.shot("not-found")
        page.get_by_role("link", name="Go to My apps").click()
        expect(page).to_have_url(f"{served.base}/apps")
        w.allowed.add(("/logout", 405))
        page.goto("/logout")
        expect(page.get_by_role("heading", name="This page can't be opened this way")).to_be_visible()
        w.shot("method-not-allowed")

        page.goto("/apps")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="You're signed out")).to_be_visible()
        fits_and_labelled(page, width)
        w.shot("signed-out")
        page.get_by_role("link", name="Sign in again").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        enter_username(w, LONG_UPN)
        page.get_by_role("link", name="Use a code from your authenticator app").click()
        fits_and_labelled(page, width)
        w.shot("code")
        w.assert_clean()


def test_the_top_bar_is_usable_by_keyboard_alone(chromium: Browser, served: ServedStore) -> None:
    value = issue_pass(served, NEW, one_time=False)
    with watched(chromium, served, "polish-keyboard", 360) as w:
        page = w.page
        page.goto("/login")
        enter_username(w, NEW)
        page.keyboard.type(value)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
        page.goto("/apps")
        reached = []
        for _ in range(4):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.textContent.trim()"))
        assert reached == ["Passbridge", "My apps", "Security info", "Sign out"]
        page.keyboard.press("Enter")  # on Sign out
        expect(page.get_by_role("heading", name="You're signed out")).to_be_visible()
        w.assert_clean()


def test_sign_in_with_a_passkey_on_a_device_without_one_says_no_passkey_was_used(
    chromium: Browser, served: ServedStore
) -> None:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1000, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        w = Watched(page, "polish-no-passkey")
        page.on("console", w.on_console)
        page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
        page.on("response", w.on_response)
        # A device with a platform authenticator that holds no passkey.
        authenticator = Authenticator(context, page)
        assert authenticator.credentials() == []
        page.goto("/login")
        page.get_by_role("button", name="Sign in with a passkey").click()
        status = page.locator("form.passkey .message")
        expect(status).to_have_text(
            "No passkey was used. If this device has none for this account, use your Temporary Access Pass "
            "or an authenticator app."
        )
        assert "cancelled or timed out" not in page.content()
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_enabled()
        w.shot("login")
        # The same on the pass page, where the script runs too.
        page.get_by_label("Username").fill(NEW)
        page.get_by_role("button", name="Next").click()
        expect(page).to_have_url(re.compile(r"/login/pass$"))
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.locator("form.passkey .message")).to_contain_text("No passkey was used.")
        w.shot("pass")
        w.assert_clean()
    finally:
        context.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    """A server with the demo relying party mounted and registered, as `passbridge demo` runs it."""
    tmp: Path = tmp_path_factory.mktemp("demo-rp")
    port = free_port()
    base = f"http://localhost:{port}"
    environ = initialised_store(tmp, PASSBRIDGE_BASE_URL=base, PASSBRIDGE_DEMO_RP="1")
    uris = ["--redirect-uri", f"{base}/demo-rp/callback", "--redirect-uri", f"{base}/demo-rp"]
    subprocess.run(
        [str(PASSBRIDGE), "app", "add", "Passbridge demo relying party", *uris, "--public"],
        env=environ,
        check=True,
        capture_output=True,
    )
    with serving(environ, port, tmp / "server.log") as proc:
        store = ServedStore(base, environ, proc, tmp / "server.log")
        cli(store, "user", "add", NEW, "--display-name", "Noor Inayat")
        yield store


@pytest.mark.parametrize("width", [1000, 360])
def test_the_demo_relying_party_shows_amr_acr_and_auth_time_readably_in_the_sites_look(
    chromium: Browser, demo: ServedStore, width: int
) -> None:
    value = issue_pass(demo, NEW, one_time=False)
    with watched(chromium, demo, f"polish-demo-rp-{width}", width) as w:
        page = w.page
        page.goto("/demo-rp")
        expect(page.get_by_role("heading", name="Demo relying party")).to_be_visible()
        fits(page, width)
        w.shot("home")
        page.get_by_role("link", name="Sign in with Passbridge").click()
        enter_username(w, NEW)
        page.get_by_label("Temporary Access Pass", exact=True).fill(value)
        page.keyboard.press("Enter")
        # A pass sign-in leads through set-up first; "Continue" goes on into the application.
        expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
        page.get_by_role("link", name="Continue").click()
        expect(page.get_by_role("heading", name="Signed in as Noor Inayat")).to_be_visible()
        how = page.locator("dl.claims ul.claim-list li")
        expect(how).to_have_text(
            ["tap Temporary Access Pass", "tap-multi-use a multi-use pass", "mfa multiple factors"]
        )
        expect(page.locator("dl.claims")).to_contain_text("mfa Multifactor authentication")
        expect(page.locator("dl.claims time")).to_have_text(
            re.compile(r"^\d{1,2} \w{3} \d{4}, \d\d:\d\d:\d\d UTC$")
        )
        fits(page, width)
        w.shot("signed-in")
        page.get_by_role("link", name="Sign out").click()
        expect(page.get_by_role("heading", name="Demo relying party")).to_be_visible()
        w.assert_clean()


@pytest.mark.parametrize("width", [1000, 360])
def test_an_applications_sign_out_asks_then_says_so_in_the_sites_look(
    chromium: Browser, served: ServedStore, width: int
) -> None:
    value = issue_pass(served, NEW, one_time=False)
    with watched(chromium, served, f"polish-app-sign-out-{width}", width) as w:
        page = w.page
        page.goto("/login")
        enter_username(w, NEW)
        page.get_by_label("Temporary Access Pass", exact=True).fill(value)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
        # RP-initiated sign-out without an id_token_hint: the provider asks first (oidc/pages.py).
        page.goto("/oauth2/v2.0/logout")
        expect(page.get_by_text(f"Sign out {NEW}?")).to_be_visible()
        expect(page.locator("link[rel=stylesheet]")).to_have_attribute("href", "/static/style.css")
        fits(page, width)
        w.shot("confirm")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
        fits(page, width)
        w.shot("signed-out")
        w.assert_clean()


@pytest.mark.parametrize("width", [1000, 360])
def test_security_info_names_an_unnamed_passkey_once_shows_a_used_pass_apart_and_warns_truly(
    chromium: Browser, served: ServedStore, width: int
) -> None:
    upn = f"ines{width}@contoso.example"
    cli(served, "user", "add", upn, "--display-name", "Inês Moreira")
    value = issue_pass(served, upn, one_time=True)
    context = chromium.new_context(base_url=served.base, viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        w = Watched(page, f"polish-security-info-{width}")
        page.on("console", w.on_console)
        page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
        page.on("response", w.on_response)
        Authenticator(context, page)
        page.goto("/login")
        enter_username(w, upn)
        page.get_by_label("Temporary Access Pass", exact=True).fill(value)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Add a passkey").click()
        page.get_by_role("button", name="Add a passkey").click()  # no name given
        expect(page.get_by_text("Your passkey was added.")).to_be_visible()
        expect(page.locator("ul.methods").get_by_role("heading", name="Passkey", exact=True)).to_be_visible()
        assert "Passkey Passkey" not in page.inner_text("main")
        # The one-time pass that began this session is history, below the methods.
        expect(page.get_by_role("heading", name="Passes you can no longer use")).to_be_visible()
        expect(page.locator("ul.methods")).not_to_contain_text("Temporary Access Pass")
        fits(page, width)
        w.shot("unnamed-passkey-and-used-pass")

        # A reusable pass from the helpdesk: removing the only passkey says that pass still works.
        # Issuing replaces the used pass, and the session begun with that pass ends with it (a session
        # never outlasts its pass): sign in again with the passkey.
        issue_pass(served, upn, one_time=False)
        page.goto("/login")
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("heading", name="My apps")).to_be_visible()
        page.goto("/security-info")
        expect(page.locator("ul.methods")).to_contain_text("Temporary Access Pass")
        page.get_by_text("Rename or remove").click()
        page.get_by_role("button", name="Remove", exact=True).click()
        expect(page.get_by_role("heading", name="Remove your last sign-in method?")).to_be_visible()
        expect(page.locator("section.confirm")).to_contain_text(
            "you can still sign in with your Temporary Access Pass until"
        )
        fits(page, width)
        w.shot("remove-last-method")
        page.get_by_role("link", name="Keep it").click()
        expect(page.locator("ul.methods").get_by_role("heading", name="Passkey", exact=True)).to_be_visible()
        w.assert_clean()
    finally:
        context.close()
