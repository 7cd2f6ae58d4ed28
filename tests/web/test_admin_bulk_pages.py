"""The admin portal's "Bulk passes": a group or an uploaded CSV, a job that goes on in the background, its
progress page, the result downloaded once, refusals as readable pages."""

from __future__ import annotations

import csv
import io
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.services.context import Env
from passbridge.store.models import BulkPassJob
from tests.factories import make_group, make_user
from tests.web.conftest import csrf_of
from tests.web.test_admin_pages import _admin

PAA = "Privileged Authentication Administrator"


def _wait_done(web: TestClient, location: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        html = web.get(location).text
        if 'http-equiv="refresh"' not in html:
            return html
        time.sleep(0.1)
    raise AssertionError("the job did not finish in 60 s")


def _start(web: TestClient, data: dict[str, str], files: dict[str, tuple[str, bytes, str]] | None = None):  # type: ignore[no-untyped-def]
    form = web.get("/admin/bulk")
    assert form.status_code == 200
    fields = {"csrf_token": csrf_of(form.text), "tz": "Europe/Paris", **data}
    # A multipart body, as the form's enctype makes a browser send even without a file chosen.
    return web.post("/admin/bulk", data=fields, files=files or {"csv": ("", b"", "application/octet-stream")})


def test_bulk_for_a_group_runs_shows_progress_and_downloads_once(env: Env, web: TestClient) -> None:
    people = [make_user(env, f"hire{n}@contoso.example") for n in range(3)]
    group = make_group(env, "New hires", members=tuple(p.id for p in people))
    _admin(env, web, PAA)
    assert 'href="/admin/bulk"' in web.get("/admin/users").text  # the nav entry
    started = _start(web, {"source": "group", "group": group.id, "start": "2026-01-05T09:00", "once": "yes"})
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    html = _wait_done(web, location)
    assert "3 of 3 done: 3 issued, 0 refused" in html and "Download the result once" in html
    assert "3 not used yet" in html
    csrf = csrf_of(html)
    got = web.post(f"{location}/result", data={"csrf_token": csrf})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"] and got.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [r["upn"] for r in rows] == [p.user_principal_name for p in people]
    # 09:00 in Paris is 08:00 UTC in January.
    assert {(r["status"], r["one-time"], r["start"][:16]) for r in rows} == {
        ("issued", "yes", "2026-01-05T08:00")
    }
    again = web.post(f"{location}/result", data={"csrf_token": csrf})
    assert again.status_code == 410 and "downloaded already" in again.text
    assert "The result was downloaded" in web.get(location).text


def test_bulk_from_a_csv_and_its_refusals(env: Env, web: TestClient) -> None:
    make_user(env, "hire0@contoso.example")
    _admin(env, web, PAA)
    csv_file = ("hires.csv", b"upn\nhire0@contoso.example\nghost@contoso.example\n", "text/csv")
    started = _start(web, {"source": "csv"}, {"csv": csv_file})
    assert started.status_code == 303, started.text
    html = _wait_done(web, started.headers["location"])
    assert "2 of 2 done: 1 issued, 1 refused" in html


def test_bad_bulk_forms_are_readable_pages(env: Env, web: TestClient) -> None:
    _admin(env, web, PAA)
    no_column = ("x.csv", b"name\nAda\n", "text/csv")
    not_utf8 = ("x.csv", b"upn\n\xff\xfe\n", "text/csv")
    for data, files, message in (
        ({"source": "csv"}, None, "Choose a CSV file"),
        ({"source": "group"}, None, "Choose a group"),
        ({"source": "csv"}, {"csv": no_column}, "no &#39;upn&#39; column"),
        ({"source": "csv"}, {"csv": not_utf8}, "not UTF-8"),
        ({"source": "group", "group": "00000000-0000-0000-0000-000000000000"}, None, "does not exist"),
        ({"source": "group", "group": "x", "lifetime": "many"}, None, "whole number of minutes"),
    ):
        answer = _start(web, data, files)  # type: ignore[arg-type]
        assert answer.status_code == 400 and message in answer.text, (data, answer.text[:300])
    for size, status in (
        (8 * 1024 * 1024 + 1, 400),
        (9 * 1024 * 1024, 413),
    ):  # read and refused; refused unread
        big = ("big.csv", b"upn\n" + b"a" * size, "text/csv")
        too_large = _start(web, {"source": "csv"}, {"csv": big})
        assert too_large.status_code == status and "larger than 8 MiB" in too_large.text
    forged = web.post(
        "/admin/bulk", data={"csrf_token": "forged", "source": "group"}, files={"csv": ("", b"", "x")}
    )
    assert forged.status_code == 400 and "expired" in forged.text
    with env.db.transaction("read") as tx:
        assert tx.session.scalar(select(func.count()).select_from(BulkPassJob)) == 0


def test_another_administrators_job_is_not_theirs_to_see(env: Env, web: TestClient) -> None:
    make_user(env, "hire0@contoso.example")
    _admin(env, web, PAA)
    started = _start(web, {"source": "csv"}, {"csv": ("h.csv", b"upn\nhire0@contoso.example\n", "text/csv")})
    location = started.headers["location"]
    html = _wait_done(web, location)
    web.cookies.clear()
    _admin(env, web, PAA, upn="other@contoso.example")
    assert web.get(location).status_code == 404
    other = web.post(f"{location}/result", data={"csrf_token": csrf_of(web.get("/admin/bulk").text)})
    assert other.status_code == 404
    assert "Download the result once" in html
