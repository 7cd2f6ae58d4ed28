"""What the browser tests share: Debian's Chromium through Playwright (headless, our flags), a page
watched for every console error, failed request and unexpected status, with a screenshot per step
under build/screenshots/, and the CLI of a served store."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.servers import PASSBRIDGE, ServedStore

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
        # A favicon still loading when a form submits is cancelled by the navigation, not broken.
        if request.failure == "net::ERR_ABORTED" and "favicon" in urlsplit(request.url).path:
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

    def assert_clean(self) -> None:
        self.page.wait_for_load_state("networkidle")
        assert self.problems == []


def enter_username(w: Watched, username: str) -> None:
    page = w.page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # autofocus: typing starts in the username field without a click.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(username)
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/login/pass$"))
