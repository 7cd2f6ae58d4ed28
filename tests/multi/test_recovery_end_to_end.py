"""Self-service recovery walked end to end in headless Chromium against a real `passbridge serve` and a
real SMTP server: HR provisions Ada (with a private address) and her manager Grace over SCIM; both
register passkeys (CDP virtual authenticators); Ada "loses" hers, asks on the sign-in page, Grace opens
the mailed link, is asked to sign in with her passkey (her session began with a pass), approves; the
recover pass arrives at Ada's private address; on a new device Ada signs in with it, registers a new
passkey and removes the old one, which is then gone from the store. The admin portal's queue is
photographed on the way (docs/self-service-recovery.md)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.pg import fresh_schema
from tests.servers import PASSBRIDGE, free_port, initialised_store, serving
from tests.smtp import SmtpServer, smtp_server
from tests.web.browser import Watched, enter_username
from tests.web.test_pages_polish_browser import fits_and_labelled
from tests.web.test_passwordless_browser import Authenticator

pytestmark = pytest.mark.multi

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADA, GRACE, ADMIN = "ada@contoso.example", "grace@contoso.example", "admin@contoso.example"
ADA_PRIVATE = "ada.lovelace@example.org"
PASS_IN_MAIL = re.compile(r"Temporary Access Pass:\s+([A-Za-z0-9]+(?: [A-Za-z0-9]+)*)")
REVIEW_LINK = re.compile(r"(http://localhost:\d+/recover/review/[A-Za-z0-9_-]+)")
VIEWPORT = {"width": 1000, "height": 760}


def _cli(environ: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(PASSBRIDGE), *args], env=environ, check=True, capture_output=True, text=True
    ).stdout


def _scim_user(base: str, token: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{base}/scim/v2/Users", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _mail(smtp: SmtpServer, to: str, subject: Callable[[str], bool]) -> EmailMessage:
    def match(received: list[EmailMessage]) -> list[EmailMessage]:
        return [m for m in received if m["To"] == to and subject(str(m["Subject"]))]

    smtp.inbox.wait_until(lambda received: bool(match(received)), f"a mail to {to}", timeout=30)
    return match(list(smtp.inbox.received))[-1]


@contextmanager
def device(
    chromium: Browser, base: str, story: str
) -> Iterator[tuple[Watched, Authenticator, BrowserContext]]:
    """A browser with its own platform authenticator: one person's device."""
    context = chromium.new_context(base_url=base, viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    try:
        yield w, Authenticator(context, page), context
    finally:
        context.close()


def _sign_in_with_pass(w: Watched, upn: str, value: str) -> None:
    w.page.goto("/login")
    enter_username(w, upn)
    w.page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    w.page.get_by_role("button", name="Sign in", exact=True).click()


def _add_passkey(w: Watched, name: str) -> None:
    page = w.page
    page.goto("/security-info")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("Your passkey was added.")).to_be_visible()
    page.wait_for_load_state("networkidle")


def _first_passkey(w: Watched, environ: dict[str, str], upn: str, name: str) -> None:
    value = json.loads(_cli(environ, "tap", "issue", upn, "--one-time", "--json"))["temporaryAccessPass"]
    _sign_in_with_pass(w, upn, value)
    expect(w.page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    _add_passkey(w, name)


def _passkeys(environ: dict[str, str], upn: str) -> list[str]:
    methods = json.loads(_cli(environ, "method", "list", upn, "--json"))
    return sorted(m.get("displayName") or "" for m in methods if "fido2" in m["@odata.type"])


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_user_who_lost_their_passkey_recovers_with_their_managers_approval(
    tmp_path: Path, chromium: Browser, database: str
) -> None:
    with ExitStack() as stack:
        smtp = stack.enter_context(smtp_server())
        stored: dict[str, str] = {}
        if database == "postgresql":
            stored["PASSBRIDGE_DATABASE_URL"] = stack.enter_context(fresh_schema())
        port = free_port()
        base = f"http://localhost:{port}"
        environ = initialised_store(
            tmp_path,
            **stored,
            PASSBRIDGE_SMTP_URL=smtp.url,
            PASSBRIDGE_MAIL_FROM="id@contoso.example",
            PASSBRIDGE_MAIL_HELPDESK="helpdesk@contoso.example",
            PASSBRIDGE_MAIL_POLL_SECONDS="0.5",
            PASSBRIDGE_BASE_URL=base,
        )
        token = json.loads(_cli(environ, "provisioning", "token", "add", "Workday", "--json"))["token"]
        with serving(environ, port, tmp_path / "server.log"):
            grace = _scim_user(
                base,
                token,
                {
                    "schemas": [USER],
                    "userName": GRACE,
                    "displayName": "Grace Hopper",
                    "emails": [{"value": GRACE, "type": "work"}],
                },
            )
            _scim_user(
                base,
                token,
                {
                    "schemas": [USER, ENTERPRISE],
                    "userName": ADA,
                    "displayName": "Ada Lovelace",
                    "emails": [{"value": ADA, "type": "work"}, {"value": ADA_PRIVATE, "type": "home"}],
                    ENTERPRISE: {"manager": {"value": grace["id"]}},
                },
            )
            value = _walk(chromium, base, environ, smtp)
        # The pass was in its mail only: not in the server's output, nor in any table (the outbox drops a
        # sent mail's body; the pass is stored as its Argon2 hash).
        assert value not in (tmp_path / "server.log").read_text()
        assert value not in _cli(environ, "audit", "list", "--json")


def _walk(chromium: Browser, base: str, environ: dict[str, str], smtp: SmtpServer) -> str:
    with (
        # Ada's laptop: her first passkey. Then the laptop is lost: whoever finds it holds her passkey.
        device(chromium, base, "recovery-old-laptop") as (lw, laptop, _),
        device(chromium, base, "recovery-manager") as (gw, grace_key, _),
        device(chromium, base, "recovery") as (aw, new_phone, _),
        device(chromium, base, "recovery-helpdesk") as (hw, _, _),
    ):
        _first_passkey(lw, environ, ADA, "Old laptop")
        assert len(laptop.credentials()) == 1
        assert _passkeys(environ, ADA) == ["Old laptop"]

        # Grace registers her passkey after a pass sign-in, and stays signed in with that pass session.
        _first_passkey(gw, environ, GRACE, "Grace's laptop")

        # Ada, on a new device: "Lost your device?" on the sign-in page.
        page = aw.page
        page.goto("/login")
        page.get_by_role("link", name="Lost your device?").click()
        expect(page.get_by_role("heading", name="Lost your device?")).to_be_visible()
        page.get_by_label("Username").fill(ADA)
        fits_and_labelled(aw.page, VIEWPORT["width"])
        aw.shot("form")
        page.get_by_role("button", name="Ask to recover").click()
        expect(page.get_by_role("heading", name="Check your private email")).to_be_visible()
        fits_and_labelled(aw.page, VIEWPORT["width"])
        aw.shot("asked")

        notice = _mail(smtp, ADA_PRIVATE, lambda s: s == "Someone asked to recover your account")
        assert "If this wasn't you" in _text(notice)
        review = _mail(smtp, GRACE, lambda s: "lost their device" in s)
        found = REVIEW_LINK.search(_text(review))
        assert found is not None
        link = found.group(1)

        # The helpdesk's queue shows the request too (an administrator, signed in with a pass).
        admin_pass = json.loads(_cli(environ, "tap", "issue", ADMIN, "--json"))["temporaryAccessPass"]
        _sign_in_with_pass(hw, ADMIN, admin_pass)
        hw.page.goto("/admin/recovery")
        expect(hw.page.get_by_role("heading", name="Recovery requests")).to_be_visible()
        expect(hw.page.get_by_text("Their manager, Grace Hopper, was mailed a link")).to_be_visible()
        fits_and_labelled(hw.page, VIEWPORT["width"])
        hw.shot("queue")

        # Grace opens the link: her pass session is not enough, she signs in with her passkey.
        gp = gw.page
        path = link.removeprefix(base)
        gw.allowed.add((path, 403))
        gp.goto(link)
        expect(gp.get_by_role("heading", name="Sign in with your passkey to review")).to_be_visible()
        fits_and_labelled(gw.page, VIEWPORT["width"])
        gw.shot("step-up")
        gp.get_by_role("link", name="Sign in with your passkey").click()
        gp.get_by_role("button", name="Sign in with a passkey").click()
        expect(gp.get_by_role("heading", name="Did Ada Lovelace lose their device?")).to_be_visible()
        fits_and_labelled(gw.page, VIEWPORT["width"])
        gw.shot("review")
        gp.get_by_role("button", name="Approve").click()
        expect(gp.get_by_role("heading", name="Approved: the pass is on its way")).to_be_visible()
        fits_and_labelled(gw.page, VIEWPORT["width"])
        gw.shot("approved")
        assert len(grace_key.credentials()) == 1

        # The pass arrives at Ada's private address, and only there.
        carrier = _mail(
            smtp, ADA_PRIVATE, lambda s: s == "Your Temporary Access Pass to recover your account"
        )
        body = _text(carrier)
        assert "approved by Grace Hopper" in body
        value = (PASS_IN_MAIL.search(body) or pytest.fail(body)).group(1).replace(" ", "")
        others = [m for m in smtp.inbox.received if m is not carrier]
        assert not [m for m in others if value in _text(m).replace(" ", "")]

        # Whoever has the lost laptop signs in with its passkey after the approval.
        lw.page.goto("/login")
        lw.page.get_by_role("button", name="Sign in with a passkey").click()
        expect(lw.page.get_by_role("heading", name="My apps")).to_be_visible()

        # On the new device: the recover pass opens security info; a new passkey; the lost one removed.
        _sign_in_with_pass(aw, ADA, value)
        expect(page).to_have_url(re.compile(r"/security-info$"))
        _add_passkey(aw, "New phone")
        assert len(new_phone.credentials()) == 1
        assert _passkeys(environ, ADA) == ["New phone", "Old laptop"]
        expect(page.get_by_role("heading", name="Remove the methods you lost")).to_be_visible()
        expect(page.get_by_role("checkbox", name=re.compile("Passkey: Old laptop"))).to_be_checked()
        fits_and_labelled(aw.page, VIEWPORT["width"])
        aw.shot("remove-lost")
        page.get_by_role("button", name="Remove the ticked methods").click()
        expect(page.get_by_text("The methods you lost were removed")).to_be_visible()
        aw.shot("old-passkey-removed")
        # The laptop was signed out when the new passkey was registered.
        lw.page.goto("/apps")
        expect(lw.page).to_have_url(re.compile(r"/login"))
        for watched in (lw, gw, aw, hw):
            watched.assert_clean()
    assert _passkeys(environ, ADA) == ["New phone"]
    return value
