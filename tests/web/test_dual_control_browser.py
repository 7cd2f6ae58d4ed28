"""Dual control in a real browser (headless Chromium) against a real `passbridge serve` that mails through a
real SMTP server: an administrator switches it on from the Policy page; a helpdesk administrator asks for a
pass for a role holder and is told it awaits a second administrator (and may not approve it); the second
administrator, mailed, approves from the Approvals queue; the requester, mailed, collects the pass, shown
once. The screenshots of docs/dual-control.md come from here (build/screenshots/dual-control-docs-*.png)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, served_store
from tests.smtp import SmtpServer, smtp_server
from tests.web.browser import SHOTS, Watched, cli, enter_username, issue_pass

MEGAN = "megan.bowen@contoso.example"  # Privileged Authentication Administrator: asks
LEE = "lee.gu@contoso.example"  # Privileged Authentication + Authentication Policy Administrator: approves
DIEGO = "diego.siciliani@contoso.example"  # Groups Administrator: the pass is for him
LINK = re.compile(r"http://localhost:\d+(/admin/approvals/[0-9a-f-]{36})")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[ServedStore]:
    with served_store(
        tmp_path_factory.mktemp("dual-control-browser"),
        PASSBRIDGE_SMTP_URL=smtp.url,
        PASSBRIDGE_MAIL_POLL_SECONDS="1",
        PASSBRIDGE_MAIL_FROM="passbridge@contoso.example",
    ) as store:
        for upn, name, roles in (
            (MEGAN, "Megan Bowen", ("Privileged Authentication Administrator",)),
            (
                LEE,
                "Lee Gu",
                ("Privileged Authentication Administrator", "Authentication Policy Administrator"),
            ),
            (DIEGO, "Diego Siciliani", ("Groups Administrator",)),
        ):
            cli(store, "user", "add", upn, "--display-name", name, "--mail", upn.replace("@", ".mail@"))
            for role in roles:
                cli(store, "role", "assign", role, upn)
        yield store


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


def _sign_in(w: Watched, served: ServedStore, upn: str) -> None:
    page = w.page
    page.goto("/admin")
    enter_username(w, upn)
    page.get_by_label("Temporary Access Pass", exact=True).fill(issue_pass(served, upn, one_time=False))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    page.get_by_role("link", name="Continue").click()


def _docs_shot(w: Watched, name: str) -> None:
    # The visible viewport only (1100 x 800): small enough for the docs page.
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"dual-control-docs-{name}.png"))


def _mail_to(smtp: SmtpServer, address: str, subject: str) -> EmailMessage:
    for count in range(1, 10):
        found = [m for m in smtp.inbox.wait_for(count) if m["To"] == address and subject in m["Subject"]]
        if found:
            return found[-1]
    raise AssertionError(f"no mail to {address} about {subject!r}")


def _link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None
    return found.group(1)


def test_a_second_administrator_approves_and_the_requester_collects_the_pass(
    chromium: Browser, served: ServedStore, smtp: SmtpServer
) -> None:
    megan = _watched(chromium, served, "dual-control-requester")
    lee = _watched(chromium, served, "dual-control-approver")
    # Both sign in with passes the operator issues before dual control is on (after, theirs would wait too).
    _sign_in(megan, served, MEGAN)
    _sign_in(lee, served, LEE)

    # Lee, an Authentication Policy Administrator, switches dual control on from the Policy page.
    page = lee.page
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Policy").click()
    page.get_by_role("link", name="Dual control settings").click()
    page.get_by_role("checkbox", name="Require a second administrator's approval").check()
    expect(page.get_by_role("checkbox", name="For anyone holding an administrator role")).to_be_checked()
    page.get_by_role("textbox", name="For passes lasting longer than (minutes)").fill("480")
    _docs_shot(lee, "settings")
    page.get_by_role("button", name="Save dual control").click()
    expect(page.get_by_role("status")).to_have_text("Dual control was saved.")
    lee.shot("settings-saved")

    # Megan asks for a pass for Diego, who holds a role: no pass, a request.
    page = megan.page
    page.goto("/admin/users")
    page.get_by_role("searchbox", name="Name, sign-in name or email").fill("Diego")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Diego Siciliani").click()
    page.get_by_role("link", name="Issue a Temporary Access Pass").click()
    page.get_by_role("textbox", name="Reason").fill("INC-5150 new laptop")
    page.get_by_role("button", name="Issue pass").click()
    expect(page.get_by_role("heading", name="Awaiting approval by a second administrator")).to_be_visible()
    expect(page.get_by_label("Temporary Access Pass", exact=True)).to_have_count(0)
    _docs_shot(megan, "awaiting")
    page.get_by_role("link", name="Open the request").click()
    expect(page.get_by_role("heading", name="Pass for Diego Siciliani")).to_be_visible()
    # Her own request: nothing to approve, only to cancel.
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel the request")).to_be_visible()
    megan.shot("own-request")

    # Lee is mailed; the queue shows who asked, for whom, on which terms, and why.
    asked = _mail_to(smtp, LEE.replace("@", ".mail@"), "Approval needed")
    request_path = _link(asked)
    page = lee.page
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Approvals").click()
    row = page.get_by_role("row", name=re.compile("Diego Siciliani"))
    expect(row).to_contain_text("Megan Bowen")
    expect(row).to_contain_text("INC-5150 new laptop")
    expect(row).to_contain_text("holds an administrator role")
    _docs_shot(lee, "queue")
    row.get_by_role("button", name="Approve the pass for Diego Siciliani").click()
    expect(page).to_have_url(re.compile(re.escape(request_path) + r"\?done=approve$"))
    expect(page.get_by_role("status")).to_contain_text("You approved this request")
    lee.shot("approved")

    # Megan is mailed, follows the link and collects the pass: shown once.
    approved = _mail_to(smtp, MEGAN.replace("@", ".mail@"), "was approved")
    assert _link(approved) == request_path
    page = megan.page
    page.goto(request_path)
    expect(page.get_by_text("Approved by Lee Gu.")).to_be_visible()
    _docs_shot(megan, "collect")
    page.get_by_role("button", name="Collect the pass").click()
    shown = page.get_by_label("Temporary Access Pass", exact=True)
    expect(shown).to_be_visible()
    value = shown.get_attribute("data-pass") or ""
    assert re.fullmatch(r"[A-HJ-NP-Za-km-z2-9]{8}", value), value
    _docs_shot(megan, "collected")
    page.goto(request_path)
    expect(page.get_by_text("This request is issued.")).to_be_visible()
    expect(page.get_by_role("button", name="Collect the pass")).to_have_count(0)
    assert value not in page.content()
    for message in smtp.inbox.received:
        assert value not in message.as_string()
    megan.assert_clean()
    lee.assert_clean()
