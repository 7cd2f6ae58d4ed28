"""A real browser (headless Chromium through Playwright) against a real `passbridge serve`.

Every page visited is saved to build/screenshots/. Any console error, script error, failed request or
unexpected error status fails the test: the pages must load cleanly, favicon included.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.servers import PASSBRIDGE, ServedStore, served_store

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, expect, sync_playwright
except ImportError:  # pragma: no cover - scripts/test installs the test extra
    pytest.fail("Playwright is missing: install the test extra (scripts/test does)", pytrace=False)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
ADA = "ada@contoso.example"
ADMIN = "admin@contoso.example"
WIKI = "https://wiki.contoso.example/auth/callback"


def cli(store: ServedStore, *args: str) -> str:
    done = subprocess.run(
        [str(PASSBRIDGE), *args], env=store.environ, check=True, capture_output=True, text=True
    )
    return done.stdout


def issue_pass(store: ServedStore, upn: str, *, one_time: bool) -> str:
    data = json.loads(cli(store, "tap", "issue", upn, "--one-time" if one_time else "--reusable", "--json"))
    value: str = data["temporaryAccessPass"]
    return value


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/test (it installs Chromium) or apt-get install -y chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("browser")) as store:
        cli(store, "user", "add", ADA, "--display-name", "Ada Lovelace")
        cli(store, "app", "add", "Team wiki", "--redirect-uri", WIKI)
        yield store


@dataclass
class Watched:
    """A page whose every problem is recorded, and which saves a screenshot of each step."""

    page: Page
    story: str
    problems: list[str] = field(default_factory=list)
    # (path, status) pairs a step expects, such as the 401 of a wrong pass.
    allowed: set[tuple[str, int]] = field(default_factory=set)
    shots: int = 0

    def shot(self, name: str) -> Path:
        self.shots += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.story}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium reports every 4xx document as "Failed to load resource" in the console; only the
        # statuses a step declared (a wrong pass answers 401 by contract) are let through.
        loaded = re.match(
            r"Failed to load resource: the server responded with a status of (\d+)", message.text
        )
        path = urlsplit(message.location.get("url", "")).path
        if loaded and (path, int(loaded.group(1))) in self.allowed:
            return
        self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_response(self, response: Response) -> None:
        if response.status >= 400 and (urlsplit(response.url).path, response.status) not in self.allowed:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def on_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def assert_clean(self) -> None:
        assert self.problems == []


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


def enter_username(w: Watched, username: str) -> None:
    page = w.page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # autofocus: typing starts in the username field without a click.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(username)
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/login/pass$"))


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
    expect(page.get_by_role("heading", name="Temporary Access Pass")).to_be_visible()
    expect(page.get_by_text("Already used")).to_be_visible()
    assert value not in page.content()
    watched.shot("security-info")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{served.base}/login")
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
    page.get_by_role("button", name="Sign in").click()

    field = page.get_by_label("Temporary Access Pass", exact=True)
    expect(
        page.get_by_text("We couldn't sign you in with that username and Temporary Access Pass.")
    ).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    watched.shot("wrong-pass")
    field.fill(value)
    page.get_by_role("button", name="Sign in").click()

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
