"""A real browser (headless Chromium through Playwright) against a real `passbridge serve`.

Every page visited is saved to build/screenshots/. Any console error, script error, failed request or
unexpected error status fails the test: the pages must load cleanly, favicon included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import ADA, ADMIN, WIKI, Watched, cli, enter_username, issue_pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("browser")) as store:
        cli(store, "user", "add", ADA, "--display-name", "Ada Lovelace")
        cli(store, "app", "add", "Team wiki", "--redirect-uri", WIKI)
        yield store


@pytest.fixture
def watched(chromium: Browser, served: ServedStore, request: pytest.FixtureRequest) -> Iterator[Watched]:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    story = request.node.name.removeprefix("test_")
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    try:
        yield w
    finally:
        context.close()


def test_one_time_pass_from_my_apps_to_set_up_and_back(watched: Watched, served: ServedStore) -> None:
    page = watched.page
    value = issue_pass(served, ADMIN, one_time=True)
    page.goto("/apps")
    expect(page).to_have_url(f"{served.base}/login?return_to=/apps")
    watched.shot("login")
    enter_username(watched, ADMIN)
    expect(page.get_by_text(f"Signing in as {ADMIN}")).to_be_visible()
    expect(page.get_by_label("Temporary Access Pass", exact=True)).to_be_focused()
    watched.shot("pass")
    page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    expect(page.get_by_text("You have 10 minutes to register a method")).to_be_visible()
    watched.shot("setup-methods")
    page.get_by_role("link", name="Continue").click()

    expect(page).to_have_url(f"{served.base}/apps")
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Team wiki"))).to_have_attribute(
        "href", "https://wiki.contoso.example/"
    )
    watched.shot("my-apps")
    page.get_by_role("link", name="Security info").click()
    # The pass this session began with was for one sign-in: listed apart, as used, not as a method.
    expect(page.get_by_role("heading", name="Passes you can no longer use")).to_be_visible()
    expect(page.get_by_text("Temporary Access Pass, for one sign-in: used")).to_be_visible()
    assert value not in page.content()
    watched.shot("security-info")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{served.base}/signed-out")
    expect(page.get_by_role("heading", name="You're signed out")).to_be_visible()
    watched.shot("signed-out")
    page.goto("/apps")
    expect(page).to_have_url(f"{served.base}/login?return_to=/apps")
    watched.assert_clean()


def test_wrong_pass_shows_the_message_then_the_right_one_signs_in(
    watched: Watched, served: ServedStore
) -> None:
    page = watched.page
    value = issue_pass(served, ADA, one_time=False)
    page.goto("/login")
    watched.shot("login")
    enter_username(watched, ADA)
    watched.shot("pass")
    page.get_by_label("Temporary Access Pass", exact=True).fill("NOT-THE-PASS")
    watched.allowed.add(("/login/pass", 401))
    page.get_by_role("button", name="Sign in", exact=True).click()

    field = page.get_by_label("Temporary Access Pass", exact=True)
    expect(
        page.get_by_text("We couldn't sign you in with that username and Temporary Access Pass.")
    ).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    watched.shot("wrong-pass")
    field.fill(value)
    page.get_by_role("button", name="Sign in", exact=True).click()

    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    expect(page.get_by_text("You have")).to_have_count(0)  # a reusable pass: no 10-minute window
    watched.shot("setup-methods")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_text("Signed in as Ada Lovelace (ada@contoso.example).")).to_be_visible()
    watched.shot("my-apps")
    watched.assert_clean()


def test_login_page_fits_a_phone(chromium: Browser, served: ServedStore) -> None:
    context = chromium.new_context(base_url=served.base, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        w = Watched(page, "phone")
        page.on("console", w.on_console)
        page.on("response", w.on_response)
        page.on("requestfailed", w.on_failed)
        page.goto("/login")
        expect(page.get_by_role("button", name="Next")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        w.shot("login")
        w.assert_clean()
    finally:
        context.close()
