"""Purpose-bound passes in a real browser (headless Chromium) against a real `passbridge serve`: an
administrator issues an enrol pass from the portal; its holder, signed in with it, reaches security info and
nothing else (My apps says so, an application sends them back to sign in), registers a passkey with the
virtual authenticator, which uses the one-time pass up; the passkey then signs them in to their apps. The
policy page binds passes to a purpose and revokes reusable passes once a passkey exists. The screenshots of
docs/purpose-bound-passes.md come from here (build/screenshots/purpose-docs-*.png)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import ADMIN, SHOTS, Watched, cli, enter_username, issue_pass
from tests.web.test_passwordless_browser import Authenticator

HOLDER = "nestor.wilke@contoso.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("purpose-browser")) as store:
        cli(store, "user", "add", HOLDER, "--display-name", "Nestor Wilke")
        yield store


def _watched(chromium: Browser, served: ServedStore, story: str) -> tuple[Watched, Authenticator]:
    context = chromium.new_context(base_url=served.base, viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, story)
    page.on("console", w.on_console)
    page.on("pageerror", lambda error: w.problems.append(f"script error: {error}"))
    page.on("response", w.on_response)
    page.on("requestfailed", w.on_failed)
    return w, Authenticator(context, page)


def _docs_shot(w: Watched, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"purpose-docs-{name}.png"))


def _sign_in_with_pass(w: Watched, upn: str, value: str) -> None:
    w.page.goto("/login")
    enter_username(w, upn)
    w.page.get_by_label("Temporary Access Pass", exact=True).fill(value)
    w.page.get_by_role("button", name="Sign in", exact=True).click()


def _holders_pass(served: ServedStore) -> dict[str, object]:
    shown = json.loads(cli(served, "tap", "show", HOLDER, "--json"))
    assert isinstance(shown, dict)
    return shown


def test_an_enrol_pass_from_the_portal_sets_up_a_passkey_and_nothing_else(
    chromium: Browser, served: ServedStore
) -> None:
    admin, _ = _watched(chromium, served, "purpose-admin")
    page = admin.page
    page.goto("/admin")
    enter_username(admin, ADMIN)
    page.get_by_label("Temporary Access Pass", exact=True).fill(issue_pass(served, ADMIN, one_time=False))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto("/admin/users")
    page.get_by_role("link", name="Nestor Wilke").click()
    page.get_by_role("link", name="Issue a Temporary Access Pass").click()
    page.get_by_role("combobox", name="What the pass is for").select_option("enrol")
    page.get_by_role("checkbox", name="One-time").check()
    page.get_by_role("textbox", name=re.compile("Reason")).fill("New laptop, ticket 4711")
    _docs_shot(admin, "issue")
    admin.shot("issue-form")
    page.get_by_role("button", name="Issue pass").click()
    shown = page.get_by_label("Temporary Access Pass", exact=True)
    value = (shown.get_attribute("data-pass") or "").replace(" ", "")
    assert len(value) >= 8
    admin.shot("issued")
    assert _holders_pass(served)["purpose"] == "enrol"

    holder, key = _watched(chromium, served, "purpose-holder")
    hp = holder.page
    _sign_in_with_pass(holder, HOLDER, value)
    expect(hp.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    hp.goto("/apps")
    expect(hp.get_by_role("heading", name="Your pass only sets up sign-in methods")).to_be_visible()
    expect(hp.get_by_role("link", name="Admin portal")).to_have_count(0)
    _docs_shot(holder, "my-apps")
    holder.shot("my-apps")
    # Signing in does not use the one-time pass up: registering the first method does.
    assert _holders_pass(served)["isUsable"] is True
    hp.get_by_role("link", name="Set up your sign-in methods").click()
    expect(hp.get_by_text("only sets up your sign-in methods")).to_be_visible()
    hp.get_by_label("Name", exact=True).fill("Nestor's laptop")
    hp.get_by_role("button", name="Add a passkey").click()
    expect(hp.get_by_text("Your passkey was added.")).to_be_visible()
    holder.shot("passkey-added")
    assert len(key.credentials()) == 1
    used = _holders_pass(served)
    assert (used["isUsable"], used["methodUsabilityReason"]) == (False, "OneTimeUsed")

    # The passkey signs in, and that session opens the apps.
    hp.goto("/login?another=1")
    hp.get_by_role("button", name="Sign in with a passkey").click()
    expect(hp.get_by_role("heading", name="My apps")).to_be_visible()
    expect(hp.get_by_role("heading", name="Your pass only sets up sign-in methods")).to_have_count(0)
    holder.shot("signed-in-with-passkey")
    holder.assert_clean()

    # The policy page: bind every pass to enrol, and revoke reusable ones once a passkey exists.
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Policy").click()
    page.get_by_role("combobox", name="What passes may be used for").select_option("enrol")
    page.get_by_role("checkbox", name="Revoke a reusable pass once its holder has a passkey").check()
    page.get_by_role("combobox", name="What passes may be used for").scroll_into_view_if_needed()
    _docs_shot(admin, "policy")
    page.locator("#tap").get_by_role("button", name=re.compile("Save")).click()
    expect(page.get_by_role("status")).to_be_visible()
    admin.shot("policy-saved")
    policy = json.loads(cli(served, "policy", "show", "--json"))
    assert (policy["enforcedPurpose"], policy["revokeMultiUseAfterPasskey"]) == ("enrol", True)
    refused = cli(served, "tap", "issue", HOLDER, "--purpose", "enrol", "--json")
    assert json.loads(refused)["purpose"] == "enrol"
    admin.assert_clean()
