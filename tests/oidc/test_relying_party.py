"""A third-party relying party against a real `passbridge serve`: Authlib's OAuth 2.0 client with S256
PKCE, a person signing in through the real pages with a pass (plain form posts), the ID token checked
against the published keys with joserfc, then refresh-token rotation."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from passbridge.config import load_settings
from passbridge.directory.apps import ApplicationService
from passbridge.directory.service import DirectoryService
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from tests.servers import TEST_PEPPER, free_port, initialised_store, serving
from tests.web.conftest import username_form

UPN = "ada@contoso.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Provider:
    base: str
    client_id: str
    redirect_uri: str
    pass_value: str


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    port = free_port()
    base = f"http://localhost:{port}"
    redirect_uri = f"http://localhost:{free_port()}/callback"
    environ = initialised_store(tmp_path, PASSBRIDGE_BASE_URL=base)
    env = Env.from_settings(load_settings(data_dir=tmp_path, pepper=TEST_PEPPER, base_url=base))
    try:
        with env.db.transaction() as tx:
            DirectoryService(tx, env, operator()).add_user(UPN, display_name="Ada Lovelace")
            app = ApplicationService(tx, env, operator()).register(
                "Third party", permissions=[], redirect_uris=[redirect_uri], public=True
            )
            issued = TapService(tx, env, operator()).issue(UPN, PassRequest(is_usable_once=False))
            client_id, value = app.application.app_id, issued.value
    finally:
        env.db.dispose()
    with serving(environ, port, tmp_path / "server.log"):
        yield Provider(base, client_id, redirect_uri, value)


def sign_in_through_the_pages(browser: httpx.Client, authorization_url: str, value: str) -> str:
    """The person's side, as the page contract describes it; returns the redirect to the RP."""
    to_login = browser.get(authorization_url)
    # Anonymous: no flow is stored yet; the login page carries the request until the first post.
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/login?return_to=")
    login = browser.get(to_login.headers["location"])
    named = browser.post("/login", data=username_form(login.text, UPN))
    assert (named.status_code, named.headers["location"]) == (303, "/login/pass")
    pass_page = browser.get("/login/pass")
    assert "Signing in as" in pass_page.text
    proved = browser.post(
        "/login/pass",
        data={"csrf_token": CSRF.search(pass_page.text).group(1), "pass": value},  # type: ignore[union-attr]
    )
    assert proved.status_code == 303, proved.text
    location = proved.headers["location"]
    if location.startswith("/setup-methods"):
        location = parse_qs(urlsplit(location).query)["return_to"][0]
    back = browser.get(location)
    assert back.status_code == 302, back.text
    return back.headers["location"]


def test_third_party_relying_party_signs_a_user_in_with_a_pass_and_rotates_refresh_tokens(
    provider: Provider,
) -> None:
    discovery = httpx.get(f"{provider.base}/.well-known/openid-configuration").json()
    rp = OAuth2Client(
        client_id=provider.client_id,
        token_endpoint_auth_method="none",
        redirect_uri=provider.redirect_uri,
        scope="openid profile offline_access",
        code_challenge_method="S256",
    )
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    url, state = rp.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    with httpx.Client(base_url=provider.base, follow_redirects=False) as browser:
        callback = sign_in_through_the_pages(browser, url, provider.pass_value)
    assert callback.startswith(provider.redirect_uri + "?")
    assert parse_qs(urlsplit(callback).query)["state"] == [state]

    token = rp.fetch_token(
        discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    decoded = jwt.decode(token["id_token"], keys, algorithms=["ES256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider.base},
        aud={"essential": True, "value": provider.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    ).validate(decoded.claims)
    assert decoded.claims["amr"] == ["tap", "tap-multi-use", "mfa"]
    assert decoded.claims["acr"] == "mfa"
    assert decoded.claims["preferred_username"] == UPN

    first_refresh = token["refresh_token"]
    rotated = rp.refresh_token(discovery["token_endpoint"], refresh_token=first_refresh)
    assert rotated["refresh_token"] != first_refresh
    assert jwt.decode(rotated["id_token"], keys).claims["sub"] == decoded.claims["sub"]
    with pytest.raises(OAuthError) as refused:
        rp.refresh_token(discovery["token_endpoint"], refresh_token=first_refresh)
    assert refused.value.error == "invalid_grant"
    # Reuse revoked the family: the token the legitimate holder kept is dead too.
    with pytest.raises(OAuthError):
        rp.refresh_token(discovery["token_endpoint"], refresh_token=rotated["refresh_token"])
    userinfo = httpx.get(
        discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert userinfo.json()["sub"] == decoded.claims["sub"]
