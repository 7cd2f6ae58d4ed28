"""Bulk passes in a real browser (headless Chromium) against a real `passbridge serve`: an administrator
issues passes for a group, watches the progress page refresh itself, downloads the result once (a second
download, from a tab opened before, is refused), and a new hire signs in with a pass from the file.
Every step is saved under build/screenshots/."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.servers import ServedStore, served_store
from tests.web.browser import ADMIN, SHOTS, cli, enter_username
from tests.web.test_admin_browser import _sign_in, _watched

HIRES = [f"new.hire{n}@contoso.example" for n in range(3)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(tmp_path_factory.mktemp("bulk-browser")) as store:
        cli(store, "group", "add", "Starters in January")
        for upn in HIRES:
            cli(store, "user", "add", upn)
            cli(store, "group", "add-member", "Starters in January", upn)
        yield store


def test_administrator_bulk_issues_for_a_group_and_downloads_the_result_once(
    chromium: Browser, served: ServedStore, tmp_path: Path
) -> None:
    w = _watched(chromium, served, "admin-bulk")
    page = w.page
    _sign_in(w, served, ADMIN)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Bulk passes").click()
    expect(page.get_by_role("heading", name="Bulk passes", level=1)).to_be_visible()
    page.get_by_label("Every member of a group").check()
    page.get_by_label("Group", exact=True).select_option(label="Starters in January")
    page.get_by_label("One-time").check()
    w.shot("form")
    page.get_by_role("button", name="Issue passes").click()

    expect(page.get_by_role("heading", name="Passes for group Starters in January")).to_be_visible()
    w.shot("progress")
    # The page refreshes itself (no script) until the run ends.
    expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("status").first).to_contain_text("3 of 3 done: 3 issued, 0 refused")
    expect(page.get_by_text("3 not used yet")).to_be_visible()
    w.shot("finished")

    # A second tab holds the same page, with its download button, from before the download.
    stale = page.context.new_page()
    stale.goto(page.url)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the result once").click()
    saved = tmp_path / "result.csv"
    download.value.save_as(saved)
    # Chromium ends a navigation that turns into a download as aborted: that one is the download itself.
    aborted = f"request failed: POST {page.url}/result: net::ERR_ABORTED"
    w.problems = [p for p in w.problems if p != aborted]
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [r["upn"] for r in rows] == sorted(HIRES)
    assert {(r["status"], r["one-time"]) for r in rows} == {("issued", "yes")}
    assert all(re.fullmatch(r"[A-HJ-NP-Za-km-z2-9]{8}", r["pass"]) for r in rows)

    page.reload()
    expect(page.get_by_text("The result was downloaded")).to_be_visible()
    expect(page.get_by_role("button", name="Download the result once")).to_have_count(0)
    w.shot("downloaded")

    w.allowed.add((page.url.removeprefix(served.base) + "/result", 410))
    stale.on("response", w.on_response)
    stale.get_by_role("button", name="Download the result once").click()
    expect(stale.get_by_role("heading", name="The result is gone")).to_be_visible()
    stale.screenshot(path=str(SHOTS / "admin-bulk-second-download-refused.png"), full_page=True)

    # A new hire signs in with their pass from the file.
    them = _watched(chromium, served, "admin-bulk-hire")
    them.page.goto("/apps")
    enter_username(them, rows[0]["upn"])
    them.page.get_by_label("Temporary Access Pass", exact=True).fill(rows[0]["pass"])
    them.page.keyboard.press("Enter")
    expect(them.page.get_by_role("heading", name="Set up your sign-in methods")).to_be_visible()
    them.shot("hire-signed-in")

    # The job's page now reports the pass used.
    page.reload()
    expect(page.get_by_text("1 used")).to_be_visible()
    w.shot("report")
    # Both pages fit a phone's screen.
    page.set_viewport_size({"width": 360, "height": 900})
    job_page = page.url
    for path in ("/admin/bulk", job_page):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        w.shot("at-360px")
    w.assert_clean()
    them.assert_clean()
