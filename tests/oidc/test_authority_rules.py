"""The authorities' rules in process: each discovery document names its own issuer and endpoints, codes
are redeemed only through the authority they were issued through, tokens carry that authority's issuer
(client credentials too, through the token endpoint's fast path), and Graph, userinfo and logout take
tokens from every authority of the tenant but no other issuer, even one our key signed."""

from __future__ import annotations

from typing import Any

import pytest

from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.tokens import service as tokens
from tests.factories import make_app
from tests.oidc.conftest import ADA, BASE, CALLBACK, Browser, RelyingParty, claims_of, issue_pass


def tenant_of(env: Env) -> str:
    with env.db.transaction("read") as tx:
        found = tokens.tenant_id(tx, env)
    assert found is not None
    return found


@pytest.mark.parametrize("segment", ["tenant", "common", "organizations"])
def test_tenant_discovery_names_its_own_authority_as_issuer_with_its_endpoints_under_it(
    env: Env, browser: Browser, tenant: Initialised, segment: str
) -> None:
    authority = tenant_of(env) if segment == "tenant" else segment
    document = browser.client.get(f"/{authority}/v2.0/.well-known/openid-configuration").json()
    assert document["issuer"] == f"{BASE}/{authority}/v2.0"
    assert document["authorization_endpoint"] == f"{BASE}/{authority}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{BASE}/{authority}/oauth2/v2.0/token"
    assert document["end_session_endpoint"] == f"{BASE}/{authority}/oauth2/v2.0/logout"
    assert document["jwks_uri"] == f"{BASE}/{authority}/discovery/v2.0/keys"
    assert browser.client.get(document["jwks_uri"].removeprefix(BASE)).json()["keys"]
    root = browser.client.get("/.well-known/openid-configuration").json()
    assert (root["issuer"], root["token_endpoint"]) == (BASE, f"{BASE}/oauth2/v2.0/token")


def test_tenant_discovery_names_the_tenant_in_lowercase_whatever_the_path_said(
    env: Env, browser: Browser
) -> None:
    tenant = tenant_of(env)
    document = browser.client.get(f"/{tenant.upper()}/v2.0/.well-known/openid-configuration").json()
    assert document["issuer"] == f"{BASE}/{tenant}/v2.0"
    assert browser.client.get("/COMMON/v2.0/.well-known/openid-configuration").json()["issuer"] == (
        f"{BASE}/common/v2.0"
    )


def test_a_code_is_redeemed_only_through_the_authority_it_was_issued_through(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    tenant = tenant_of(env)
    code, auth = browser.code_for(
        public_rp,
        ADA,
        issue_pass(env, ADA),
        scope="openid offline_access User.Read",
        path=f"/{tenant}/oauth2/v2.0/authorize",
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": public_rp.client_id,
        "code_verifier": auth.verifier or "",
    }
    for elsewhere in ("", "/common", "/organizations"):
        refused = browser.client.post(f"{elsewhere}/oauth2/v2.0/token", data=form)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant"), refused.text
    redeemed = browser.client.post(f"/{tenant}/oauth2/v2.0/token", data=form)
    assert redeemed.status_code == 200, redeemed.text
    body = redeemed.json()
    issuer = f"{BASE}/{tenant}/v2.0"
    assert claims_of(env, body["id_token"])["iss"] == issuer
    assert claims_of(env, body["access_token"])["iss"] == issuer
    rotated = browser.client.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"], **public_rp.auth()},
    )
    assert rotated.status_code == 200, rotated.text
    assert claims_of(env, rotated.json()["id_token"])["iss"] == issuer
    me = browser.client.get("/v1.0/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["userPrincipalName"] == ADA


@pytest.mark.parametrize("segment", ["tenant", "common", None])
def test_client_credentials_through_an_authority_carry_its_issuer_and_graph_takes_them(
    env: Env, browser: Browser, tenant: Initialised, segment: str | None
) -> None:
    created = make_app(env, permissions=("User.Read.All",))
    authority = tenant_of(env) if segment == "tenant" else segment
    path = f"/{authority}/oauth2/v2.0/token" if authority else "/oauth2/v2.0/token"
    issued = browser.client.post(
        path,
        data={
            "grant_type": "client_credentials",
            "client_id": created.application.app_id,
            "client_secret": created.client_secret,
            "scope": f"{BASE}/.default",
        },
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert claims_of(env, token)["iss"] == (f"{BASE}/{authority}/v2.0" if authority else BASE)
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # the second call may be answered from the verified-token cache
        assert browser.client.get("/v1.0/users", headers=bearer).status_code == 200


def signed_by_us(env: Env, **claims: Any) -> str:
    with env.db.transaction("read") as tx:
        return tokens.sign_claims(tx, env, claims)


@pytest.mark.parametrize(
    "issuer",
    [
        f"{BASE}/00000000-0000-0000-0000-000000000001/v2.0",
        f"{BASE}/consumers/v2.0",
        f"{BASE}/common",
        "https://login.microsoftonline.com/common/v2.0",
    ],
)
def test_graph_userinfo_and_logout_refuse_an_issuer_outside_the_tenant_even_signed_by_our_key(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User, issuer: str
) -> None:
    code, auth = browser.code_for(public_rp, ADA, issue_pass(env, ADA), scope="openid User.Read")
    body = browser.redeem(public_rp, code, auth).json()
    good_access, good_id = claims_of(env, body["access_token"]), claims_of(env, body["id_token"])
    access = signed_by_us(env, **{**good_access, "iss": issuer})
    bearer = {"Authorization": f"Bearer {access}"}
    assert browser.client.get("/v1.0/me", headers=bearer).status_code == 401
    assert browser.client.get("/oidc/userinfo", headers=bearer).status_code == 401
    hint = signed_by_us(env, **{**good_id, "iss": issuer})
    refused = browser.client.get("/oauth2/v2.0/logout", params={"id_token_hint": hint})
    assert refused.status_code == 400 and "location" not in refused.headers
    # The same claims under the tenant's own issuer are good.
    tenant_issuer = f"{BASE}/{tenant_of(env)}/v2.0"
    accepted = signed_by_us(env, **{**good_access, "iss": tenant_issuer})
    assert browser.client.get("/v1.0/me", headers={"Authorization": f"Bearer {accepted}"}).status_code == 200


def test_logout_takes_an_id_token_hint_from_a_tenant_authority(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    code, auth = browser.code_for(
        public_rp, ADA, issue_pass(env, ADA), scope="openid", path="/common/oauth2/v2.0/authorize"
    )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": public_rp.client_id,
        "code_verifier": auth.verifier or "",
    }
    id_token = browser.client.post("/common/oauth2/v2.0/token", data=form).json()["id_token"]
    answer = browser.client.get(
        "/common/oauth2/v2.0/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": CALLBACK, "state": "x"},
    )
    assert (answer.status_code, answer.headers.get("location")) == (302, f"{CALLBACK}?state=x")
