"""An in-process browser for the pages (no JavaScript, as the pages need none) and sign-in helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, TapService
from passbridge.services.context import Env, operator
from passbridge.tokens.service import reset_key_cache
from tests.factories import make_user
from tests.web.browser import chromium  # noqa: F401  (the module-scoped browser fixture)

BASE = "http://localhost:8000"
ADA = "ada@contoso.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


RETURN_TO = re.compile(r'name="return_to" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "page has no csrf_token field"
    return found.group(1)


def username_form(html: str, username: str) -> dict[str, str]:
    """What a browser posts from the username page: its hidden fields and the name typed."""
    found = RETURN_TO.search(html)
    return_to = unescape(found.group(1)) if found else ""
    return {"csrf_token": csrf_of(html), "return_to": return_to, "username": username}


def issue(env: Env, upn: str, *, one_time: bool = False) -> IssuedPass:
    with env.db.transaction() as tx:
        return TapService(tx, env, operator()).issue(upn, PassRequest(is_usable_once=one_time))


def browser(env: Env, base_url: str = BASE) -> TestClient:
    """A client that, like a browser's address bar, does not follow redirects on its own here: the
    tests check each Location."""
    return TestClient(create_app(env), base_url=base_url, follow_redirects=False)


@pytest.fixture
def web(env: Env, tenant: Initialised) -> Iterator[TestClient]:
    reset_key_cache(env)
    with browser(env) as client:
        yield client


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> str:
    return make_user(env, ADA, display_name="Ada Lovelace").user_principal_name


@dataclass
class Steps:
    """Each response of one pass sign-in, in order."""

    login: httpx.Response
    identified: httpx.Response
    pass_page: httpx.Response
    proved: httpx.Response

    @property
    def pages(self) -> list[httpx.Response]:
        return [self.login, self.identified, self.pass_page, self.proved]


def sign_in(client: TestClient, username: str, value: str, *, login_url: str = "/login") -> Steps:
    login = client.get(login_url)
    assert login.status_code == 200, login.text
    identified = client.post("/login", data=username_form(login.text, username))
    assert (identified.status_code, identified.headers["location"]) == (303, "/login/pass")
    pass_page = client.get("/login/pass")
    assert pass_page.status_code == 200
    proved = client.post("/login/pass", data={"csrf_token": csrf_of(pass_page.text), "pass": value})
    return Steps(login, identified, pass_page, proved)


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
