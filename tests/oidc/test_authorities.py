"""Every authority (the root, `/{tenantId}/v2.0`, `/common/v2.0`, `/organizations/v2.0`) passes a strict
relying party: pyoidc (`oic`), configured with the authority alone, refuses a discovery document whose
`issuer` is not that authority (OpenID Connect Discovery 4.3) and an ID token whose `iss` is not the
discovered issuer. Against a real `passbridge serve`: discovery, the code flow with PKCE through the real
pages, the ID token verified by oic, refresh, userinfo and Graph with each authority's tokens; a refresh
token presented through another authority is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from oic import rndstr
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from passbridge.config import load_settings
from passbridge.directory.apps import ApplicationService
from passbridge.directory.service import DirectoryService
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from passbridge.tokens.service import tenant_id
from tests.oidc.test_relying_party import UPN, sign_in_through_the_pages
from tests.servers import TEST_PEPPER, free_port, initialised_store, serving


@dataclass
class Served:
    base: str
    tenant_id: str
    client_id: str
    secret: str
    redirect_uri: str
    pass_value: str

    def authorities(self) -> list[str]:
        return [
            self.base,
            f"{self.base}/{self.tenant_id}/v2.0",
            f"{self.base}/common/v2.0",
            f"{self.base}/organizations/v2.0",
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path: Path = tmp_path_factory.mktemp("authorities")
    port = free_port()
    base = f"http://localhost:{port}"
    redirect_uri = f"http://localhost:{free_port()}/callback"
    environ = initialised_store(tmp_path, PASSBRIDGE_BASE_URL=base)
    env = Env.from_settings(load_settings(data_dir=tmp_path, pepper=TEST_PEPPER, base_url=base))
    try:
        with env.db.transaction() as tx:
            DirectoryService(tx, env, operator()).add_user(UPN, display_name="Ada Lovelace")
            created = ApplicationService(tx, env, operator()).register(
                "Strict RP", permissions=[], redirect_uris=[redirect_uri]
            )
            issued = TapService(tx, env, operator()).issue(UPN, PassRequest(is_usable_once=False))
            tenant = tenant_id(tx, env)
            assert tenant is not None and created.client_secret is not None
            found = Served(
                base, tenant, created.application.app_id, created.client_secret, redirect_uri, issued.value
            )
    finally:
        env.db.dispose()
    with serving(environ, port, tmp_path / "server.log"):
        yield found


def strict_client(served: Served, issuer: str) -> Client:
    """oic's Client configured with nothing but the authority and its registration."""
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.allow["issuer_mismatch"] = False  # the default, said out loud: this is what is tested
    client.provider_config(issuer)
    client.store_registration_info(
        RegistrationResponse(
            client_id=served.client_id,
            client_secret=served.secret,
            redirect_uris=[served.redirect_uri],
            token_endpoint_auth_method="client_secret_post",
        )
    )
    return client


def code_flow(served: Served, client: Client, browser: httpx.Client) -> tuple[str, AccessTokenResponse]:
    """oic builds the request (S256 PKCE, state, nonce), the person signs in through the pages (or the
    browser's session answers at once), oic parses the callback and redeems the code, verifying the ID
    token: signature against the authority's keys, iss, aud, nonce."""
    state, nonce = rndstr(24), rndstr(24)
    pkce, verifier = client.add_code_challenge()
    request = client.construct_AuthorizationRequest(
        request_args={
            "client_id": served.client_id,
            "response_type": "code",
            "scope": ["openid", "profile", "offline_access", "User.Read"],
            "redirect_uri": served.redirect_uri,
            "state": state,
            "nonce": nonce,
            **pkce,
        }
    )
    url = request.request(client.authorization_endpoint)
    first = browser.get(url)
    if first.status_code == 303:
        callback = sign_in_through_the_pages(browser, url, served.pass_value)
    else:
        assert first.status_code == 302, first.text
        callback = first.headers["location"]
    assert callback.startswith(served.redirect_uri + "?"), callback
    answer = client.parse_response(AuthorizationResponse, info=urlsplit(callback).query, sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse) and answer["state"] == state
    token = client.do_access_token_request(
        state=state,
        request_args={"code": answer["code"], "redirect_uri": served.redirect_uri, "code_verifier": verifier},
        authn_method="client_secret_post",
    )
    assert isinstance(token, AccessTokenResponse), token.to_dict()
    return state, token


def test_each_authority_names_itself_as_issuer_and_a_strict_client_completes_the_code_flow(
    served: Served,
) -> None:
    with httpx.Client(base_url=served.base, follow_redirects=False) as browser:
        for issuer in served.authorities():
            client = strict_client(served, issuer)  # raises on an issuer mismatch
            assert client.provider_info["issuer"] == issuer
            prefix = served.base if issuer == served.base else issuer.removesuffix("/v2.0")
            assert client.token_endpoint == f"{prefix}/oauth2/v2.0/token"
            assert client.authorization_endpoint == f"{prefix}/oauth2/v2.0/authorize"
            state, token = code_flow(served, client, browser)
            id_token = token["id_token"]
            assert (id_token["iss"], id_token["aud"]) == (issuer, [served.client_id])
            access = token["access_token"]

            # Refresh through the same authority: a new ID token, verified by oic, with the same issuer.
            refreshed = client.do_access_token_refresh(state=state, authn_method="client_secret_post")
            assert isinstance(refreshed, AccessTokenResponse), refreshed.to_dict()
            assert refreshed["id_token"]["iss"] == issuer

            # Graph and userinfo take every authority's tokens.
            for bearer in (access, refreshed["access_token"]):
                me = httpx.get(f"{served.base}/v1.0/me", headers={"Authorization": f"Bearer {bearer}"})
                assert (me.status_code, me.json().get("userPrincipalName")) == (200, UPN), me.text
            info = httpx.get(
                client.userinfo_endpoint, headers={"Authorization": f"Bearer {refreshed['access_token']}"}
            )
            assert info.status_code == 200 and info.json()["sub"] == id_token["sub"], info.text


def test_a_refresh_token_is_refused_through_another_authority_and_still_works_through_its_own(
    served: Served,
) -> None:
    tenant_issuer = f"{served.base}/{served.tenant_id}/v2.0"
    client = strict_client(served, tenant_issuer)
    with httpx.Client(base_url=served.base, follow_redirects=False) as browser:
        state, token = code_flow(served, client, browser)
    refresh_token = token["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": served.client_id,
        "client_secret": served.secret,
    }
    for elsewhere in (served.base, f"{served.base}/common", f"{served.base}/organizations"):
        refused = httpx.post(f"{elsewhere}/oauth2/v2.0/token", data=form)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant"), refused.text
    # Refused elsewhere, not spent: its own authority still rotates it (no reuse was detected).
    rotated = client.do_access_token_refresh(state=state, authn_method="client_secret_post")
    assert isinstance(rotated, AccessTokenResponse), rotated.to_dict()
    assert rotated["id_token"]["iss"] == tenant_issuer
