"""Discovery advertises the code flow exactly as served."""

from __future__ import annotations

from tests.oidc.conftest import BASE, Browser


def test_discovery_lists_the_code_flow_endpoints_and_capabilities(browser: Browser) -> None:
    document = browser.client.get("/.well-known/openid-configuration").json()
    assert document["authorization_endpoint"] == f"{BASE}/oauth2/v2.0/authorize"
    assert document["token_endpoint"] == f"{BASE}/oauth2/v2.0/token"
    assert document["userinfo_endpoint"] == f"{BASE}/oidc/userinfo"
    assert document["end_session_endpoint"] == f"{BASE}/oauth2/v2.0/logout"
    assert document["jwks_uri"] == f"{BASE}/discovery/v2.0/keys"
    assert document["response_types_supported"] == ["code"]
    assert document["grant_types_supported"] == ["client_credentials", "authorization_code", "refresh_token"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
        "none",
    ]
    assert {"openid", "profile", "email", "offline_access", "User.Read"} <= set(document["scopes_supported"])
    assert {"amr", "acr", "auth_time", "nonce", "sub", "oid", "preferred_username", "email"} <= set(
        document["claims_supported"]
    )


def test_tenant_discovery_points_the_code_flow_at_the_tenant_paths(browser: Browser) -> None:
    document = browser.client.get("/organizations/v2.0/.well-known/openid-configuration").json()
    tenant = document["token_endpoint"].split("/")[3]
    assert document["authorization_endpoint"] == f"{BASE}/{tenant}/oauth2/v2.0/authorize"
    assert document["end_session_endpoint"] == f"{BASE}/{tenant}/oauth2/v2.0/logout"
    assert browser.client.get(f"/{tenant}/oauth2/v2.0/authorize").status_code == 400
