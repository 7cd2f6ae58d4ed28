"""'This wasn't me' in a real browser against a real `passbridge serve` that sends its own mail to a real
SMTP server (aiosmtpd): a pass issued with a reason is announced to its holder; someone signs in with it in
one browser; the link from the mail, confirmed in another browser, revokes the pass and signs the first
browser out; the link works once. Screenshots under build/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, free_port, initialised_store, serving
from tests.smtp import SmtpServer, smtp_server
from tests.web.browser import ADA, ADMIN, Watched, cli, enter_username, issue_pass

MAILBOX = "ada.lovelace@mail.contoso.example"
HELPDESK = "helpdesk@contoso.example"
REASON = "INC-4711 lost phone"


@dataclass
class Sending:
    store: ServedStore
    smtp: SmtpServer


@pytest.fixture(scope="module")
def sending(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sending]:
    tmp_path = tmp_path_factory.mktemp("notice-browser")
    with smtp_server() as smtp:
        port = free_port()
        base = f"http://localhost:{port}"
        environ = initialised_store(
            tmp_path,
            PASSBRIDGE_BASE_URL=base,
            PASSBRIDGE_SMTP_URL=smtp.url,
            PASSBRIDGE_MAIL_FROM="passbridge@contoso.example",
            PASSBRIDGE_MAIL_HELPDESK=HELPDESK,
            PASSBRIDGE_MAIL_POLL_SECONDS="0.2",
        )
        log_file = tmp_path / "server.log"
        with serving(environ, port, log_file) as proc:
            yield Sending(ServedStore(base, environ, proc, log_file), smtp)


def _watched(chromium: Browser, store: ServedStore, story: str, width: int = 1280) -> Watched:
    context = chromium.new_context(base_url=store.base, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    return w


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _link(message: EmailMessage, base: str) -> str:
    found = re.search(re.escape(base) + r"/this-wasnt-me/[A-Za-z0-9_-]+", _text(message))
    assert found is not None, _text(message)
    return found.group(0)


def test_this_wasnt_me_from_the_mail_revokes_the_pass_and_signs_the_other_browser_out(
    chromium: Browser, sending: Sending
) -> None:
    store, inbox = sending.store, sending.smtp.inbox
    cli(store, "user", "add", ADA, "--display-name", "Ada Lovelace", "--mail", MAILBOX)
    issued = json.loads(cli(store, "tap", "issue", ADA, "--reusable", "--reason", REASON, "--json"))
    value = issued["temporaryAccessPass"]

    [notice] = inbox.wait_for(1)  # sent by the server's own sender, from its outbox
    assert notice["To"] == MAILBOX
    assert REASON in _text(notice) and value not in _text(notice)

    intruder = _watched(chromium, store, "notice-intruder")
    page = intruder.page
    page.goto("/apps")
    enter_username(intruder, ADA)
    page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    intruder.shot("signed-in-with-the-pass")

    used = inbox.wait_for(2)[1]
    assert used["Subject"] == "Your Temporary Access Pass was used to sign in"
    link = _link(used, store.base)

    owner = _watched(chromium, store, "notice-owner")
    mine = owner.page
    mine.goto(link)
    expect(mine.get_by_role("heading", name="Was this pass yours?")).to_be_visible()
    expect(mine.get_by_text(f"Reason given: {REASON}")).to_be_visible()
    owner.shot("confirm")
    mine.get_by_role("button", name="This wasn't me: stop the pass").click()
    expect(mine.get_by_role("heading", name="Done: the pass no longer works")).to_be_visible()
    expect(mine.get_by_text("Your helpdesk has been told.")).to_be_visible()
    owner.shot("done")

    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "/login" in page.url
    intruder.shot("signed-out")

    mine.goto(link)
    expect(mine.get_by_role("heading", name="This was already done")).to_be_visible()
    owner.shot("already-done")
    mine.goto(_link(notice, store.base))  # the issue notice's link: the pass was reported already
    expect(mine.get_by_role("heading", name="This was already done")).to_be_visible()

    report = inbox.wait_for(3)[2]
    assert report["To"] == HELPDESK and "Ada Lovelace (ada@contoso.example)" in _text(report)
    assert cli(store, "tap", "show", ADA).strip() == f"{ADA} has no Temporary Access Pass."
    audit = cli(store, "audit", "list")
    assert "User reported a Temporary Access Pass as not theirs" in audit
    intruder.assert_clean()
    owner.assert_clean()


def test_the_mail_page_lists_what_was_sent_and_fits_a_phone(chromium: Browser, sending: Sending) -> None:
    store, inbox = sending.store, sending.smtp.inbox
    cli(
        store,
        "user",
        "add",
        "grace@contoso.example",
        "--display-name",
        "Grace Hopper",
        "--mail",
        "grace@mail.example",
    )
    cli(store, "tap", "issue", "grace@contoso.example", "--reason", "HR-9 first day")
    inbox.wait_until(lambda got: any(m["To"] == "grace@mail.example" for m in got), "Grace's notice")
    admin = _watched(chromium, store, "mail-page", width=360)
    page = admin.page
    page.goto("/admin/mail")
    enter_username(admin, ADMIN)
    page.get_by_label("Temporary Access Pass", exact=True).fill(issue_pass(store, ADMIN, one_time=False))
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Mail", level=1)).to_be_visible()
    row = page.get_by_role("row").filter(has_text="grace@mail.example")
    expect(row).to_contain_text("A Temporary Access Pass was issued for your account")
    expect(row).to_contain_text("Sent")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    admin.shot("mail-at-360px")
    admin.assert_clean()
