"""404, 405 and 413 as pages in the site's look for a browser opening an address; every API caller (and a
browser on an API path) keeps exactly the JSON it had."""

from __future__ import annotations

import json
from html import unescape

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of

# What Chromium sends when it opens an address; a fetch() or curl sends */*.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PROGRAMS = [None, "*/*", "application/json", "application/json, text/html;q=0.5"]


def _is_site_page(text: str) -> bool:
    return '<link rel="stylesheet" href="/static/style.css">' in text and 'class="card"' in text


@pytest.mark.parametrize("path", ["/nope", "/apps/nope/deeper", "/static/nope.css", "/demo-rp"])
def test_a_browser_opening_a_missing_address_gets_a_404_page(web: TestClient, path: str) -> None:
    page = web.get(path, headers={"accept": BROWSER})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "We can't find that page" in unescape(page.text) and _is_site_page(page.text)
    assert '<a href="/apps" class="button primary">Go to My apps</a>' in page.text
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def test_a_missing_address_under_the_sign_in_pages_offers_to_start_again(web: TestClient) -> None:
    page = web.get("/login/pass/x", headers={"accept": BROWSER})
    assert page.status_code == 404
    assert '<a href="/login" class="button primary">Start again</a>' in page.text


# Starlette's Allow names the methods of the first route matching the path.
@pytest.mark.parametrize(("method", "path", "allow"), [("GET", "/logout", "POST"), ("PUT", "/login", "GET")])
def test_a_browser_using_a_method_an_address_does_not_take_gets_a_405_page(
    web: TestClient, method: str, path: str, allow: str
) -> None:
    page = web.request(method, path, headers={"accept": BROWSER})
    assert page.status_code == 405
    assert page.headers["content-type"].startswith("text/html") and _is_site_page(page.text)
    assert "This page can't be opened this way" in unescape(page.text) and "Nothing was changed." in page.text
    assert page.headers["allow"] == allow


def test_a_form_too_large_for_any_of_ours_gets_a_413_page_and_nothing_is_stored(web: TestClient) -> None:
    csrf = csrf_of(web.get("/login").text)
    page = web.post("/login", data={"csrf_token": csrf, "username": "x" * (70 * 1024)})
    assert page.status_code == 413
    assert "That was too much to send" in page.text and _is_site_page(page.text)
    assert "Go back and try again." in page.text
    # The flow was never created: the next post with the same token still works.
    assert web.post("/login", data={"csrf_token": csrf, "username": "ada@contoso.example"}).status_code == 303


def _comparable(body: bytes) -> object:
    """A JSON body with the parts that differ on every request blanked: Graph's date and request ids,
    the token endpoint's timestamp, trace and correlation ids."""
    data = json.loads(body)
    varying = ("date", "request-id", "client-request-id", "timestamp", "trace_id", "correlation_id")
    error = data.get("error")
    for part in (data, error.get("innerError", {}) if isinstance(error, dict) else {}):
        for key in varying:
            if key in part:
                part[key] = "-"
    return data


# Each kind of path, with what it answered before pages existed (checked for every Accept, browsers' too
# on the API paths): FastAPI's detail off the API, Graph's shape on it, the token endpoint's own 405.
BEFORE = [
    ("GET", "/nope", 404, b'{"detail":"Not Found"}', None),
    ("GET", "/logout", 405, b'{"detail":"Method Not Allowed"}', None),
    ("POST", "/healthz", 405, b'{"detail":"Method Not Allowed"}', None),
    ("GET", "/oauth2/v2.0/nope", 404, b'{"detail":"Not Found"}', None),
    ("GET", "/jwks/x", 404, b'{"detail":"Not Found"}', None),
    ("GET", "/contoso.example/discovery/v2.0/nope", 404, b'{"detail":"Not Found"}', None),
    ("GET", "/oauth2/v2.0/token", 405, None, "POST"),
    ("GET", "/contoso.example/oauth2/v2.0/token", 405, None, "POST"),
    ("GET", "/v1.0/nope", 400, None, None),
    ("GET", "/beta", 400, None, None),
    ("DELETE", "/v1.0/users", 405, None, None),
]


@pytest.mark.parametrize(("method", "path", "status", "exact", "allow"), BEFORE)
def test_api_answers_stay_byte_identical_for_every_caller_that_is_not_a_browser_page_visit(
    web: TestClient, method: str, path: str, status: int, exact: bytes | None, allow: str | None
) -> None:
    is_api = not path.startswith(("/nope", "/logout"))
    accepts = [*PROGRAMS, BROWSER] if is_api else PROGRAMS
    answers = []
    for accept in accepts:
        answer = web.request(method, path, headers={"accept": accept} if accept else {})
        assert answer.status_code == status, (accept, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers.get("allow") == allow
        if exact is not None:
            assert answer.content == exact
        answers.append(_comparable(answer.content))
    assert all(a == answers[0] for a in answers)
    if path.startswith(("/v1.0", "/beta")):
        assert answers[0]["error"]["code"] in ("BadRequest", "Request_BadRequest")  # type: ignore[index]
