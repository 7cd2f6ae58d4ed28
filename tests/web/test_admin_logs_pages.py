"""The admin portal's logs: the audit log and the sign-in log, newest first, filtered, paged by key and
exported as CSV that a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.factories import make_user
from tests.web.conftest import browser, issue, sign_in
from tests.web.test_admin_pages import _admin


def test_the_audit_log_shows_who_did_what_newest_first_and_filters_by_user(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    ada = make_user(env, "ada@contoso.example", display_name="Ada")
    env.clock.advance(seconds=5)  # type: ignore[attr-defined]
    make_user(env, "bob@contoso.example", display_name="Bob")
    env.clock.advance(seconds=5)  # type: ignore[attr-defined]
    issue(env, "ada@contoso.example")
    page = web.get("/admin/logs")
    assert page.status_code == 200
    table = page.text[page.text.index("<table") :]
    assert table.index("Admin registered security info") < table.index("bob@contoso.example")  # newest first
    only_ada = web.get("/admin/logs", params={"user": "ada@contoso.example"}).text
    assert "ada@contoso.example" in only_ada and "bob@contoso.example" not in only_ada
    by_activity = web.get("/admin/logs", params={"activity": "Add user"}).text
    assert "Admin registered security info" not in by_activity and ada.user_principal_name in by_activity


def test_the_sign_in_log_filters_failures_and_exports_csv(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    with browser(env) as theirs:  # a name nobody holds, as typed: the log keeps it
        assert sign_in(theirs, "=cmd@contoso.example", "WrongPass9").proved.status_code == 401
    failures = web.get("/admin/logs", params={"log": "signins", "result": "failure"}).text
    assert "=cmd@contoso.example" in failures and "badge ok" not in failures
    successes = web.get("/admin/logs", params={"log": "signins", "result": "success"}).text
    assert "=cmd@contoso.example" not in successes and "helpdesk@contoso.example" in successes
    exported = web.get("/admin/logs.csv", params={"log": "signins"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:2] == ["Date (UTC)", "User"]
    users = [row[1] for row in rows[1:]]
    assert "'=cmd@contoso.example" in users  # a leading = would run as a formula in a spreadsheet


def test_a_bad_date_is_explained_next_to_its_field(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    page = web.get("/admin/logs", params={"from": "2026-13-40"})
    assert page.status_code == 400 and 'id="from-error"' in page.text and "2026-12-24" in page.text
    backwards = web.get("/admin/logs", params={"from": "2026-12-10", "to": "2026-12-01"})
    assert backwards.status_code == 400 and "comes before" in backwards.text


def test_older_entries_page_by_key_and_each_appears_once(env: Env, web: TestClient) -> None:
    _admin(env, web, "Global Reader")
    for i in range(60):
        make_user(env, f"p{i:02d}@contoso.example")
    seen: list[str] = []
    url: str | None = "/admin/logs?activity=Add+user"
    while url is not None:
        html = web.get(url).text
        seen += re.findall(r">(p\d\d@contoso\.example)<", html)
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = unescape(found.group(1)) if found else None
    assert len(seen) == len(set(seen)) == 60


def test_an_authentication_administrator_is_told_the_logs_need_a_reader_role(
    env: Env, web: TestClient
) -> None:
    _admin(env, web, "Authentication Administrator")
    page = web.get("/admin/logs")
    assert "Global Reader" in page.text and "<table" not in page.text
    assert web.get("/admin/logs.csv").status_code == 403
