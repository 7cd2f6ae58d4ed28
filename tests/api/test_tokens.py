"""The token endpoint (client credentials), discovery and the published keys, at our paths and Entra's."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.directory.apps import NewApplication
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, SigningKey
from tests.factories import make_app

BASE = "http://localhost:8000"
TOKEN = "/oauth2/v2.0/token"
SCOPE = f"{BASE}/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PERMISSIONS = ("UserAuthenticationMethod.Read.All", "User.Read.All")


@pytest.fixture
def client_app(env: Env) -> NewApplication:
    return make_app(env, "HR provisioning", permissions=PERMISSIONS)


def post_form(client_app: NewApplication, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": client_app.application.app_id,
        "client_secret": client_app.client_secret,
        "scope": SCOPE,
        **extra,
    }


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def assert_oauth_error(response: Any, status: int, error: str, aadsts: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [aadsts]
    assert body["error_description"].startswith(f"AADSTS{aadsts}: ")
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
    }
    assert body["timestamp"] == "2026-01-01 09:00:00Z"
    assert body["trace_id"] == response.headers["request-id"]
    assert response.headers["cache-control"] == "no-store"
    return body


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


# --- successful grants ---------------------------------------------------------------------------


def test_client_secret_post_grant_answers_entra_token_response(
    api: TestClient, client_app: NewApplication
) -> None:
    response = api.post(TOKEN, data=post_form(client_app))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and body["ext_expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"


def test_client_secret_basic_grant_issues_a_token(api: TestClient, client_app: NewApplication) -> None:
    app = client_app.application
    response = api.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        headers=basic(app.app_id, client_app.client_secret),
    )
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["appid"] == app.app_id


def test_graph_default_scope_is_accepted_so_unmodified_graph_scripts_work(
    api: TestClient, client_app: NewApplication
) -> None:
    response = api.post(TOKEN, data=post_form(client_app, scope=GRAPH_SCOPE))
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["aud"] == BASE


def test_client_id_is_matched_case_insensitively_like_a_guid(
    api: TestClient, client_app: NewApplication
) -> None:
    form = post_form(client_app, client_id=client_app.application.app_id.upper())
    assert api.post(TOKEN, data=form).status_code == 200


def test_token_claims_verify_against_the_jwks_fetched_over_http(
    api: TestClient, env: Env, tenant: Initialised, client_app: NewApplication, clock: ManualClock
) -> None:
    token = api.post(TOKEN, data=post_form(client_app)).json()["access_token"]
    jwks_uri = api.get("/.well-known/openid-configuration").json()["jwks_uri"]
    assert jwks_uri.startswith(BASE)
    keys = api.get(urlsplit(jwks_uri).path).json()
    decoded = jwt.decode(token, KeySet.import_key_set(keys), algorithms=["ES256"])
    header, claims = decoded.header, decoded.claims
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    assert header["kid"] in [k["kid"] for k in keys["keys"]]
    now = int(clock.now().timestamp())
    app = client_app.application
    assert claims["iss"] == BASE and claims["aud"] == BASE
    assert claims["tid"] == tenant.tenant.id
    assert claims["oid"] == app.id and claims["sub"] == app.id
    assert claims["appid"] == app.app_id and claims["azp"] == app.app_id
    assert claims["idtyp"] == "app"
    assert sorted(claims["roles"]) == sorted(PERMISSIONS)
    assert claims["iat"] == now and claims["nbf"] == now and claims["exp"] == now + 3600


def test_granted_token_reads_a_graph_route(
    api: TestClient, tenant: Initialised, client_app: NewApplication
) -> None:
    token = api.post(TOKEN, data=post_form(client_app)).json()["access_token"]
    response = api.get(
        f"/v1.0/users/{tenant.admin.id}/authentication/methods",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"] != []


# --- client authentication failures --------------------------------------------------------------


def test_wrong_secret_is_invalid_client_401_with_challenge(
    api: TestClient, client_app: NewApplication
) -> None:
    wrong = "x" * 40
    response = api.post(TOKEN, data=post_form(client_app, client_secret=wrong))
    assert_oauth_error(response, 401, "invalid_client", 7000215)
    assert response.headers["www-authenticate"] == 'Basic realm="Passbridge"'
    assert wrong not in response.text and client_app.client_secret not in response.text


def test_wrong_secret_over_basic_is_invalid_client_401(api: TestClient, client_app: NewApplication) -> None:
    response = api.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        headers=basic(client_app.application.app_id, "not-the-secret"),
    )
    assert_oauth_error(response, 401, "invalid_client", 7000215)
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_unknown_client_is_invalid_client_401(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app, client_id="5e1c4c4b-0000-4000-8000-000000000000")
    body = assert_oauth_error(api.post(TOKEN, data=form), 401, "invalid_client", 700016)
    assert "5e1c4c4b-0000-4000-8000-000000000000" in body["error_description"]


def test_a_secret_of_another_client_does_not_authenticate(
    api: TestClient, env: Env, client_app: NewApplication
) -> None:
    other = make_app(env, "Other")
    form = post_form(client_app, client_secret=other.client_secret)
    assert_oauth_error(api.post(TOKEN, data=form), 401, "invalid_client", 7000215)


def test_no_client_credentials_is_invalid_client(api: TestClient) -> None:
    response = api.post(TOKEN, data={"grant_type": "client_credentials", "scope": SCOPE})
    assert_oauth_error(response, 401, "invalid_client", 7000216)


def test_client_id_without_secret_is_invalid_client(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app)
    del form["client_secret"]
    assert_oauth_error(api.post(TOKEN, data=form), 401, "invalid_client", 7000218)


def test_two_authentication_methods_at_once_are_refused(api: TestClient, client_app: NewApplication) -> None:
    app = client_app.application
    response = api.post(
        TOKEN, data=post_form(client_app), headers=basic(app.app_id, client_app.client_secret)
    )
    assert_oauth_error(response, 400, "invalid_request", 9002313)


# --- request failures ----------------------------------------------------------------------------


def test_missing_grant_type_is_invalid_request(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app)
    del form["grant_type"]
    body = assert_oauth_error(api.post(TOKEN, data=form), 400, "invalid_request", 900144)
    assert "'grant_type'" in body["error_description"]


def test_unsupported_grant_type_is_refused(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app, grant_type="password")
    body = assert_oauth_error(api.post(TOKEN, data=form), 400, "unsupported_grant_type", 70003)
    assert "'password'" in body["error_description"]


@pytest.mark.parametrize(
    "scope",
    [
        "User.Read.All",
        "https://graph.microsoft.com/User.Read.All",
        f"{SCOPE} {GRAPH_SCOPE}",
        "https://other.example/.default",
        'https://graph.microsoft.com/"quoted"\\.default',
    ],
)
def test_scope_other_than_one_default_is_invalid_scope(
    api: TestClient, client_app: NewApplication, scope: str
) -> None:
    assert_oauth_error(
        api.post(TOKEN, data=post_form(client_app, scope=scope)), 400, "invalid_scope", 1002012
    )


def test_missing_scope_is_invalid_request(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app)
    del form["scope"]
    body = assert_oauth_error(api.post(TOKEN, data=form), 400, "invalid_request", 900144)
    assert "'scope'" in body["error_description"]


def test_duplicated_parameter_is_invalid_request(api: TestClient, client_app: NewApplication) -> None:
    form = post_form(client_app)
    body = "&".join(f"{k}={v}" for k, v in form.items()) + "&scope=x"
    response = api.post(TOKEN, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(response, 400, "invalid_request", 9000411)


def test_json_body_is_invalid_request(api: TestClient, client_app: NewApplication) -> None:
    response = api.post(TOKEN, json=post_form(client_app))
    assert_oauth_error(response, 400, "invalid_request", 900144)


def test_get_on_the_token_endpoint_is_405(api: TestClient) -> None:
    response = api.get(TOKEN)
    assert_oauth_error(response, 405, "invalid_request", 900561)
    assert response.headers["allow"] == "POST"


def test_client_request_id_guid_is_echoed_as_correlation_id(api: TestClient) -> None:
    correlation = "0b8a6f3e-8d4c-4d1e-9f5a-2c3b4d5e6f70"
    response = api.post(TOKEN, data={"grant_type": "password"}, headers={"client-request-id": correlation})
    assert response.json()["correlation_id"] == correlation


def test_failed_grants_change_nothing_in_the_store(
    api: TestClient, env: Env, client_app: NewApplication
) -> None:
    def snapshot() -> tuple[int, int]:
        with env.db.transaction("read") as tx:
            audits = tx.session.scalar(select(func.count()).select_from(AuditEntry))
            keys = tx.session.scalar(select(func.count()).select_from(SigningKey))
            return int(audits or 0), int(keys or 0)

    before = snapshot()
    api.post(TOKEN, data=post_form(client_app, client_secret="wrong"))
    api.post(TOKEN, data=post_form(client_app, scope="nope"))
    api.post(TOKEN, data=post_form(client_app, grant_type="password"))
    assert snapshot() == before


def test_neither_secret_nor_token_reaches_the_logs(
    api: TestClient, client_app: NewApplication, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = api.post(TOKEN, data=post_form(client_app)).json()["access_token"]
    api.post(TOKEN, data=post_form(client_app, client_secret="wrong-secret-value"))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert client_app.client_secret not in logged
    assert "wrong-secret-value" not in logged
    assert token not in logged and token.split(".")[2] not in logged


# --- discovery and keys --------------------------------------------------------------------------


def test_discovery_document_names_our_endpoints_and_capabilities(api: TestClient) -> None:
    response = api.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document == {
        "issuer": BASE,
        "authorization_endpoint": f"{BASE}/oauth2/v2.0/authorize",
        "token_endpoint": f"{BASE}/oauth2/v2.0/token",
        "userinfo_endpoint": f"{BASE}/oidc/userinfo",
        "end_session_endpoint": f"{BASE}/oauth2/v2.0/logout",
        "jwks_uri": f"{BASE}/discovery/v2.0/keys",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "scopes_supported": document["scopes_supported"],  # tests/oidc/test_discovery.py checks them
        "claims_supported": document["claims_supported"],
        "acr_values_supported": ["mfa", "passwordless-mfa", "phishing-resistant-mfa", "single-factor"],
        "prompt_values_supported": ["none", "login", "select_account", "consent"],
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
    assert SCOPE in document["scopes_supported"]
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "tid", "oid", "azp", "roles"} <= set(
        document["claims_supported"]
    )


def test_jwks_publishes_public_p256_keys_only(api: TestClient) -> None:
    response = api.get("/discovery/v2.0/keys")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert set(keys[0]) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (keys[0]["kty"], keys[0]["crv"], keys[0]["use"], keys[0]["alg"]) == ("EC", "P-256", "sig", "ES256")
    assert api.get("/jwks").json() == response.json()


# --- Entra's paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", ["tid", "TID", "organizations", "common"])
def test_tenant_discovery_points_every_endpoint_at_its_own_authority(
    api: TestClient, tenant: Initialised, segment: str
) -> None:
    tid = tenant.tenant.id
    name = {"tid": tid, "TID": tid.upper()}.get(segment, segment)
    authority = {"tid": tid, "TID": tid}.get(segment, segment)  # named in lowercase
    response = api.get(f"/{name}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["issuer"] == f"{BASE}/{authority}/v2.0"
    assert document["token_endpoint"] == f"{BASE}/{authority}/oauth2/v2.0/token"
    assert document["authorization_endpoint"] == f"{BASE}/{authority}/oauth2/v2.0/authorize"
    assert document["jwks_uri"] == f"{BASE}/{authority}/discovery/v2.0/keys"


def test_tenant_discovery_is_what_msal_needs(api: TestClient, tenant: Initialised) -> None:
    # MSAL takes the tenant from the token endpoint's first path segment and accepts an issuer on
    # the authority's scheme and host.
    tid = tenant.tenant.id
    document = api.get(f"/{tid}/v2.0/.well-known/openid-configuration").json()
    token_endpoint = urlsplit(document["token_endpoint"])
    assert token_endpoint.path.split("/")[1] == tid
    issuer = urlsplit(document["issuer"])
    assert (issuer.scheme, issuer.netloc) == (token_endpoint.scheme, token_endpoint.netloc)
    assert api.get(urlsplit(document["jwks_uri"]).path).json() == api.get("/discovery/v2.0/keys").json()


@pytest.mark.parametrize("segment", ["tid", "organizations"])
def test_grant_on_a_tenant_path_issues_the_same_token_from_that_authority(
    api: TestClient, tenant: Initialised, client_app: NewApplication, segment: str
) -> None:
    name = tenant.tenant.id if segment == "tid" else segment
    response = api.post(f"/{name}/oauth2/v2.0/token", data=post_form(client_app, scope=GRAPH_SCOPE))
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["tid"] == tenant.tenant.id and claims["iss"] == f"{BASE}/{name}/v2.0"


def test_unknown_tenant_is_aadsts90002_on_every_entra_path(
    api: TestClient, client_app: NewApplication
) -> None:
    other = "0c9f6e0e-1111-4222-8333-444455556666"
    discovery = api.get(f"/{other}/v2.0/.well-known/openid-configuration")
    body = assert_oauth_error(discovery, 400, "invalid_tenant", 90002)
    assert f"Tenant '{other}' not found." in body["error_description"]
    assert_oauth_error(api.get(f"/{other}/discovery/v2.0/keys"), 400, "invalid_tenant", 90002)
    assert_oauth_error(api.get("/consumers/discovery/v2.0/keys"), 400, "invalid_tenant", 90002)
    token = api.post(f"/{other}/oauth2/v2.0/token", data=post_form(client_app))
    assert_oauth_error(token, 400, "invalid_request", 90002)
