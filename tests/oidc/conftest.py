"""A browser and a relying party for the OpenID Connect provider, in process."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.security import keys as jose
from passbridge.services.context import Env, operator
from passbridge.store.models import User
from passbridge.tokens import keys as key_service
from passbridge.tokens.service import issue_app_token, reset_key_cache
from tests.factories import make_app, make_user
from tests.web.conftest import username_form

BASE = "http://localhost:8000"
CALLBACK = "http://localhost:9000/callback"
ADA = "ada@contoso.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "page has no csrf_token field"
    return found.group(1)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def issue_pass(env: Env, upn: str, *, one_time: bool = False, lifetime: int | None = None) -> str:
    wanted: dict[str, Any] = {"is_usable_once": one_time}
    if lifetime is not None:
        wanted["lifetime_minutes"] = lifetime
    with env.db.transaction() as tx:
        return TapService(tx, env, operator()).issue(upn, PassRequest(**wanted)).value


def claims_of(env: Env, token: str) -> dict[str, Any]:
    """The token's claims once its signature checks out against the published keys."""
    with env.db.transaction("read") as tx:
        published = key_service.public_jwks(tx, env)
    return jose.verify_signature(token, published)  # type: ignore[arg-type]


@dataclass
class RelyingParty:
    """A registered application and what it sends."""

    client_id: str
    secret: str | None

    def auth(self) -> dict[str, str]:
        return (
            {"client_id": self.client_id, "client_secret": self.secret}
            if self.secret
            else {"client_id": self.client_id}
        )


@dataclass
class Authorization:
    params: dict[str, str]
    verifier: str | None


class Browser:
    """The person's browser (cookies, no automatic redirects) and the steps of the code flow."""

    def __init__(self, env: Env, client: TestClient) -> None:
        self.env = env
        self.client = client

    def authorize(
        self,
        rp: RelyingParty,
        *,
        scope: str = "openid profile email offline_access",
        pkce: bool = True,
        path: str = "/oauth2/v2.0/authorize",
        **extra: str,
    ) -> tuple[httpx.Response, Authorization]:
        params = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": CALLBACK,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        }
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        params.update(extra)
        return self.client.get(f"{path}?{urlencode(params)}"), Authorization(params, verifier)

    def sign_in(self, login_location: str, username: str, value: str) -> str:
        """Follow the sign-in pages from the authorize endpoint's redirect; returns where they send the
        browser afterwards (the resume address)."""
        login = self.client.get(login_location)
        assert login.status_code == 200, login.text
        named = self.client.post("/login", data=username_form(login.text, username))
        assert (named.status_code, named.headers["location"]) == (303, "/login/pass"), named.text
        page = self.client.get("/login/pass")
        proved = self.client.post("/login/pass", data={"csrf_token": csrf_of(page.text), "pass": value})
        assert proved.status_code == 303, proved.text
        location = proved.headers["location"]
        if location.startswith("/setup-methods"):
            location = query_of(location)["return_to"]
        return location

    def code_for(self, rp: RelyingParty, username: str, value: str, **kw: str) -> tuple[str, Authorization]:
        """The whole front channel: authorize, sign in with the pass, come back, get the code."""
        first, auth = self.authorize(rp, **kw)
        assert first.status_code == 303, first.text
        resumed = self.client.get(self.sign_in(first.headers["location"], username, value))
        return self.code_from(resumed, auth), auth

    @staticmethod
    def code_from(response: httpx.Response, auth: Authorization) -> str:
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(CALLBACK + "?"), location
        got = query_of(location)
        assert got["state"] == auth.params["state"]
        return got["code"]

    def redeem(self, rp: RelyingParty, code: str, auth: Authorization, **extra: str) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **rp.auth()}
        if auth.verifier:
            form["code_verifier"] = auth.verifier
        form.update(extra)
        return self.client.post("/oauth2/v2.0/token", data=form)

    def refresh(self, rp: RelyingParty, refresh_token: str, **extra: str) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **rp.auth(), **extra}
        return self.client.post("/oauth2/v2.0/token", data=form)


@pytest.fixture
def browser(env: Env, tenant: Initialised) -> Iterator[Browser]:
    reset_key_cache(env)
    with TestClient(create_app(env), base_url=BASE, follow_redirects=False) as client:
        yield Browser(env, client)


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    user = make_user(env, ADA, display_name="Ada Lovelace")
    with env.db.transaction() as tx:
        tx.session.get(User, user.id).mail = ADA  # type: ignore[union-attr]
    return user


@pytest.fixture
def public_rp(env: Env, tenant: Initialised) -> RelyingParty:
    created = make_app(env, "Public RP", redirect_uris=(CALLBACK,), public=True)
    return RelyingParty(created.application.app_id, None)


@pytest.fixture
def confidential_rp(env: Env, tenant: Initialised) -> RelyingParty:
    created = make_app(env, "Confidential RP", redirect_uris=(CALLBACK,))
    return RelyingParty(created.application.app_id, created.client_secret)


@pytest.fixture
def app_auth(env: Env, tenant: Initialised) -> Callable[..., dict[str, str]]:
    """`app_auth("User.Read.All")` -> headers with an application token holding those permissions."""

    def make(*permissions: str) -> dict[str, str]:
        created = make_app(env, permissions=permissions)
        with env.db.transaction("read") as tx:
            token = issue_app_token(tx, env, created.application).access_token
        return {"Authorization": f"Bearer {token}"}

    return make
