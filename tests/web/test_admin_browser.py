"""The admin portal in a real browser (headless Chromium) against a real `passbridge serve`: a helpdesk
administrator creates a user, issues a pass, reads it from the page, and the new user signs in with it in a
second browser; an Authentication Administrator is refused for an administrator; a Global Reader sees no
action. Every page is saved under build/screenshots/, at a desktop width and at 360 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import ADMIN, Watched, cli, enter_username, issue_pass

# Privileged Authentication Administrator, User Administrator and Global Reader: a helpdesk's usual set.
HELPDESK = "megan.bowen@contoso.example"
JUNIOR = "lee.gu@contoso.example"  # Authentication Administrator
READER = "nestor.wilke@contoso.example"  # Global Reader
BOSS = "diego.siciliani@contoso.example"  # holds a role: only a privileged administrator may issue for him
POLICY = "isaiah.langer@contoso.example"  # Authentication Policy Administrator
MEMBER = "pradeep.gupta@contoso.example"  # no role: any Authentication Administrator may issue for him


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("admin-browser")) as store:
        for upn, name, roles in (
            (
                HELPDESK,
                "Megan Bowen",
                ("Privileged Authentication Administrator", "User Administrator", "Global Reader"),
            ),
            (JUNIOR, "Lee Gu", ("Authentication Administrator",)),
            (READER, "Nestor Wilke", ("Global Reader",)),
            (BOSS, "Diego Siciliani", ("Groups Administrator",)),
            (POLICY, "Isaiah Langer", ("Authentication Policy Administrator",)),
            (MEMBER, "Pradeep Gupta", ()),
        ):
            cli(store, "user", "add", upn, "--display-name", name)
            for role in roles:
                cli(store, "role", "assign", role, upn)
        yield store


def _watched(chromium: Browser, served: ServedStore, story: str, width: int = 1280) -> Watched:
    context = chromium.new_context(base_url=served.base, viewport={"width": width, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    return w


def _sign_in(w: Watched, served: ServedStore, upn: str, start: str = "/admin") -> None:
    page = w.page
    page.goto(start)
    enter_username(w, upn)
    page.get_by_label("Temporary Access Pass", exact=True).fill(issue_pass(served, upn, one_time=False))
    page.keyboard.press("Enter")
    # Someone with no passkey or app yet is offered to set one up first; "Continue" goes on to `start`.
    expect(page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    page.get_by_role("link", name="Continue").click()


def _open_user(page: Page, query: str, name: str) -> None:
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    page.get_by_role("searchbox", name="Name, sign-in name or email").fill(query)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def test_helpdesk_creates_a_user_issues_a_pass_and_the_user_signs_in_with_it(
    chromium: Browser, served: ServedStore
) -> None:
    w = _watched(chromium, served, "admin-issue")
    page = w.page
    _sign_in(w, served, HELPDESK)
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    w.shot("users")

    page.get_by_role("link", name="New user").click()
    w.shot("new-user")
    page.get_by_role("textbox", name="Sign-in name").fill("alex.wilber@contoso.example")
    page.get_by_role("textbox", name="Display name").fill("Alex Wilber")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="Alex Wilber", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("The user was created")
    w.shot("user-created")

    page.get_by_role("link", name="Issue a Temporary Access Pass").click()
    expect(page.get_by_role("textbox", name="Lifetime in minutes")).to_have_value("60")
    page.get_by_role("textbox", name="Lifetime in minutes").fill("120")
    page.get_by_role("checkbox", name="One-time").check()
    w.shot("issue-form")
    page.get_by_role("button", name="Issue pass").click()

    shown = page.get_by_label("Temporary Access Pass", exact=True)
    expect(shown).to_be_visible()
    value = shown.get_attribute("data-pass") or ""
    assert re.fullmatch(r"[A-HJ-NP-Za-km-z2-9]{8}", value), value
    expect(shown).to_have_text(re.compile(r"^\s*" + value[:4] + r"\s*" + value[4:] + r"\s*$"))
    expect(page.get_by_text("UTC").first).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == value
    w.shot("pass-issued")

    # The new user, in a browser of their own, signs in with what the helpdesk read out.
    them = _watched(chromium, served, "admin-issue-user")
    them.page.goto("/apps")
    enter_username(them, "alex.wilber@contoso.example")
    them.page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    them.page.keyboard.press("Enter")
    expect(them.page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    them.shot("signed-in")

    # Live passes shows it used, with who issued it.
    page.get_by_role("link", name="Live passes").click()
    row = page.get_by_role("row", name=re.compile("Alex Wilber"))
    expect(row).to_contain_text("Used")
    expect(row).to_contain_text("Megan Bowen")
    w.shot("live-passes")
    page.get_by_label("Status").select_option("used")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row", name=re.compile("Alex Wilber"))).to_be_visible()

    # The sign-in is in the log, and issuing the pass in the audit log, with who did it.
    page.get_by_role("link", name="Logs").click()
    page.get_by_role("link", name="Sign-ins").click()
    page.get_by_role("searchbox", name="User").fill("alex.wilber@contoso.example")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row", name=re.compile("alex.wilber@contoso.example.*Success"))).to_be_visible()
    w.shot("sign-in-log")
    page.get_by_role("link", name="Audit log").click()
    expect(
        page.get_by_role("row", name=re.compile("Admin registered security info.*megan.bowen.*alex.wilber"))
    ).to_be_visible()
    w.shot("audit-log")
    page.get_by_role("link", name="Live passes").click()

    # Back on the user's page the pass is shown as used, never its value.
    page.get_by_role("link", name="Alex Wilber").click()
    expect(page.get_by_role("cell", name=re.compile("Used"))).to_be_visible()
    assert value not in page.content()
    w.shot("user-after-sign-in")
    w.assert_clean()
    them.assert_clean()


def test_an_authentication_administrator_is_refused_for_an_administrator_and_a_reader_sees_no_action(
    chromium: Browser, served: ServedStore
) -> None:
    junior = _watched(chromium, served, "admin-junior")
    _sign_in(junior, served, JUNIOR)
    _open_user(junior.page, "Diego", "Diego Siciliani")
    expect(junior.page.get_by_role("link", name="Issue a Temporary Access Pass")).to_have_count(0)
    expect(junior.page.get_by_text("a Privileged Authentication Administrator can")).to_be_visible()
    junior.shot("admin-target")
    # For someone who holds no role, the same administrator issues a pass and reads it off the page.
    _open_user(junior.page, "pradeep", "Pradeep Gupta")
    junior.page.get_by_role("link", name="Issue a Temporary Access Pass").click()
    junior.page.get_by_role("button", name="Issue pass").click()
    value = junior.page.get_by_label("Temporary Access Pass", exact=True).get_attribute("data-pass") or ""
    assert re.fullmatch(r"[A-HJ-NP-Za-km-z2-9]{8}", value), value
    junior.shot("member-pass")
    junior.assert_clean()

    reader = _watched(chromium, served, "admin-reader", width=360)
    _sign_in(reader, served, READER)
    _open_user(reader.page, "megan", "Megan Bowen")
    expect(reader.page.get_by_role("button")).to_have_count(1)  # the top bar's "Sign out" alone
    expect(reader.page.get_by_role("link", name="Issue a Temporary Access Pass")).to_have_count(0)
    reader.shot("reader-at-360px")
    # Something on the provisioning and joiner pages: a token, a new hire to come.
    cli(served, "provisioning", "token", "add", "Workday")
    cli(served, "joiner", "set", "--enable")
    cli(
        served,
        "user",
        "add",
        "new.hire@contoso.example",
        "--display-name",
        "Nova Hire",
        "--hire-date",
        "2027-01-04",
    )
    # Nothing on the page is wider than the phone's screen, on any admin page.
    assert reader.page.evaluate("document.documentElement.scrollWidth") <= 360
    for path, heading in (
        ("/admin/users", "Users"),
        ("/admin/passes", "Live passes"),
        ("/admin/policy", "Authentication methods policy"),
        ("/admin/logs", "Logs"),
        ("/admin/logs?log=signins", "Logs"),
        ("/admin/apps", "Applications"),
        ("/admin/mail", "Mail"),
        ("/admin/provisioning", "Provisioning (SCIM)"),
        ("/admin/joiner", "Joiner workflow"),
        ("/admin/approvals", "Approvals"),
        ("/admin/policy/dual-control", "Dual control for passes"),
        ("/admin/policy/passkey-profiles", "Passkey profiles"),
        ("/admin/recovery", "Recovery requests"),
    ):
        reader.page.goto(path)
        expect(reader.page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        assert reader.page.evaluate("document.documentElement.scrollWidth") <= 360, path
        reader.shot("reader-360px-" + path.strip("/").replace("/", "-").replace("?log=", "-"))
    reader.assert_clean()


def test_a_policy_edit_with_a_bad_value_shows_the_error_and_keeps_the_old_policy(
    chromium: Browser, served: ServedStore
) -> None:
    w = _watched(chromium, served, "admin-policy")
    w.allowed.add(("/admin/policy/tap", 400))
    page = w.page
    _sign_in(w, served, POLICY, start="/admin/policy")
    expect(page.get_by_role("heading", name="Authentication methods policy")).to_be_visible()
    w.shot("policy")
    minimum = page.get_by_role("textbox", name="Minimum lifetime (minutes)")
    minimum.fill("600")
    page.get_by_role("button", name="Save pass settings").click()
    expect(page.locator("#minimumLifetimeInMinutes-error")).to_have_text(
        "The minimum lifetime (600) must not exceed the maximum lifetime (480)."
    )
    expect(minimum).to_have_value("600")
    expect(minimum).to_have_attribute("aria-invalid", "true")
    w.shot("policy-refused")
    page.get_by_role("link", name="Policy").click()
    expect(page.get_by_role("textbox", name="Minimum lifetime (minutes)")).to_have_value("60")
    w.assert_clean()


def test_a_global_administrator_registers_an_application_and_its_tile_opens_its_home_page(
    chromium: Browser, served: ServedStore
) -> None:
    w = _watched(chromium, served, "admin-apps")
    page = w.page
    _sign_in(w, served, ADMIN, start="/admin/apps")
    expect(page.get_by_role("heading", name="Applications")).to_be_visible()
    page.get_by_role("link", name="Register an application").click()
    page.get_by_role("textbox", name="Name").fill("Expenses")
    page.get_by_role("textbox", name="Redirect URIs").fill("https://expenses.contoso.example/callback")
    page.get_by_role("textbox", name="Home page").fill("https://expenses.contoso.example/")
    page.get_by_label("Sign-in strength it requires").select_option(label="Phishing resistant MFA (passkey)")
    w.shot("register-app")
    page.get_by_role("button", name="Register").click()
    secret = page.get_by_label("Client secret", exact=True)
    expect(secret).to_be_visible()
    first = secret.get_attribute("data-pass") or ""
    assert len(first) >= 32
    w.shot("app-secret")
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", name="Expenses")).to_be_visible()
    assert first not in page.content()
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_label("Client secret", exact=True).get_attribute("data-pass") or ""
    assert rotated and rotated != first
    w.shot("app-rotated")
    page.goto("/apps")
    expect(page.get_by_role("link", name=re.compile("Expenses"))).to_have_attribute(
        "href", "https://expenses.contoso.example/"
    )
    w.shot("my-apps-tiles")
    w.assert_clean()
