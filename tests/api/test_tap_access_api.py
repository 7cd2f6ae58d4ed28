"""Who may do what on the Temporary Access Pass API: application permissions, /me, delegated scopes and
Entra's role tiers."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import (
    BASE,
    TAP_TYPE,
    WRITE,
    audits_of,
    passes_url,
    snapshot,
    user_auth,
)
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_user

# --- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "permission", ["UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All"]
)
def test_either_write_permission_creates_and_deletes(
    api: TestClient, app_auth: TokenFactory, ada: User, permission: str
) -> None:
    headers = app_auth(permission)
    created = api.post(passes_url(ada.id), json={}, headers=headers)
    assert created.status_code == 201, created.text
    assert api.get(passes_url(ada.id), headers=headers).status_code == 200
    assert api.delete(f"{passes_url(ada.id)}/{created.json()['id']}", headers=headers).status_code == 204


@pytest.mark.parametrize(
    "permission",
    [
        "UserAuthenticationMethod.Read.All",
        "UserAuthMethod-TAP.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-TAP.ReadWrite.All",
    ],
)
def test_read_takes_any_read_or_write_permission(
    api: TestClient, writer: dict[str, str], app_auth: TokenFactory, ada: User, permission: str
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    headers = app_auth(permission)
    assert [p["id"] for p in api.get(passes_url(ada.id), headers=headers).json()["value"]] == [created["id"]]
    assert api.get(f"{passes_url(ada.id)}/{created['id']}", headers=headers).status_code == 200


@pytest.mark.parametrize("permissions", [(), ("User.ReadWrite.All",), ("UserAuthenticationMethod.Read.All",)])
def test_writes_without_a_write_permission_are_403_access_denied_and_change_nothing(
    api: TestClient,
    env: Env,
    writer: dict[str, str],
    app_auth: TokenFactory,
    ada: User,
    permissions: tuple[str, ...],
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    headers = app_auth(*permissions)
    before = snapshot(env)
    for method, url in (("POST", passes_url(ada.id)), ("DELETE", f"{passes_url(ada.id)}/{created['id']}")):
        error = assert_graph_error(api.request(method, url, json={}, headers=headers), 403, "accessDenied")
        assert "UserAuthenticationMethod.ReadWrite.All" in error["message"]
    assert snapshot(env) == before


@pytest.mark.parametrize(
    "url",
    [
        "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
        "/v1.0/users/{id}/authentication/methods",
        "/beta/users/{id}/authentication/methods",
    ],
)
def test_reads_without_permission_are_403_access_denied(
    api: TestClient, app_auth: TokenFactory, ada: User, url: str
) -> None:
    response = api.get(url.format(id=ada.id), headers=app_auth("User.Read.All"))
    assert_graph_error(response, 403, "accessDenied")


def test_the_tap_only_permission_does_not_reveal_every_method(
    api: TestClient, app_auth: TokenFactory, ada: User
) -> None:
    response = api.get(
        f"/v1.0/users/{ada.id}/authentication/methods", headers=app_auth("UserAuthMethod-TAP.Read.All")
    )
    assert_graph_error(response, 403, "accessDenied")


# --- /me and delegated callers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me/authentication/methods"),
        ("GET", f"/me/authentication/methods/{uuid.UUID(int=2)}"),
        ("GET", "/me/authentication/temporaryAccessPassMethods"),
        ("GET", f"/me/authentication/temporaryAccessPassMethods/{uuid.UUID(int=2)}"),
        ("DELETE", f"/me/authentication/temporaryAccessPassMethods/{uuid.UUID(int=2)}"),
    ],
)
def test_me_with_an_application_token_is_400(
    api: TestClient, writer: dict[str, str], method: str, path: str
) -> None:
    error = assert_graph_error(api.request(method, f"/v1.0{path}", headers=writer), 400, "BadRequest")
    assert error["message"] == "/me request is only valid with delegated authentication flow."


def test_me_reads_own_methods_and_pass(api: TestClient, env: Env, writer: dict[str, str], ada: User) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    methods = api.get("/v1.0/me/authentication/methods", headers=own).json()
    assert methods["@odata.context"] == f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/methods"
    assert [m["id"] for m in methods["value"]] == [created["id"]]
    passes = api.get("/v1.0/me/authentication/temporaryAccessPassMethods", headers=own).json()["value"]
    assert [(p["id"], p["temporaryAccessPass"]) for p in passes] == [(created["id"], None)]
    one = api.get(f"/v1.0/me/authentication/temporaryAccessPassMethods/{created['id']}", headers=own)
    assert one.status_code == 200 and one.json()["id"] == created["id"]
    method = api.get(f"/v1.0/me/authentication/methods/{created['id']}", headers=own)
    assert method.status_code == 200 and method.json()["@odata.type"] == TAP_TYPE


def test_me_delete_of_own_pass_is_204_audited_as_the_user_and_keeps_the_session(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    own = user_auth(env, ada.id, "UserAuthenticationMethod.ReadWrite")
    clock.advance(minutes=1)
    response = api.delete(f"/v1.0/me/authentication/temporaryAccessPassMethods/{created['id']}", headers=own)
    assert response.status_code == 204
    assert api.get("/v1.0/me/authentication/temporaryAccessPassMethods", headers=own).json()["value"] == []
    [deleted] = audits_of(env, ada.id, "User deleted security info")
    assert deleted.result_reason == "User deleted temporary access pass method"
    assert deleted.initiated_by["user"]["id"] == ada.id
    assert audits_of(env, ada.id, "Admin deleted security info") == []


def test_me_delete_needs_a_write_scope(api: TestClient, env: Env, writer: dict[str, str], ada: User) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    before = snapshot(env)
    response = api.delete(f"/v1.0/me/authentication/temporaryAccessPassMethods/{created['id']}", headers=own)
    assert_graph_error(response, 403, "accessDenied")
    assert snapshot(env) == before


def test_me_reads_need_a_scope(api: TestClient, env: Env, ada: User) -> None:
    own = user_auth(env, ada.id, "User.Read")
    assert_graph_error(api.get("/v1.0/me/authentication/methods", headers=own), 403, "accessDenied")


def test_there_is_no_me_route_to_create_a_pass(api: TestClient, env: Env, ada: User) -> None:
    own = user_auth(env, ada.id, "UserAuthenticationMethod.ReadWrite")
    before = snapshot(env)
    response = api.post("/v1.0/me/authentication/temporaryAccessPassMethods", json={}, headers=own)
    assert_graph_error(response, 405, "Request_BadRequest")
    assert snapshot(env) == before


def test_nobody_creates_a_pass_for_themselves(api: TestClient, env: Env, tenant: Initialised) -> None:
    admin = user_auth(env, tenant.admin.id, WRITE)
    before = snapshot(env)
    response = api.post(passes_url(tenant.admin.id), json={}, headers=admin)
    error = assert_graph_error(response, 403, "accessDenied")
    assert error["message"] == "You cannot create a Temporary Access Pass for yourself."
    assert snapshot(env) == before


@pytest.mark.parametrize(
    ("issuer_role", "target_roles", "allowed"),
    [
        ("Global Administrator", ("Global Administrator",), True),
        ("Privileged Authentication Administrator", ("Global Administrator",), True),
        ("Authentication Administrator", (), True),
        ("Authentication Administrator", ("Global Reader",), False),
        ("Authentication Administrator", ("Authentication Administrator",), False),
        ("Global Reader", (), False),
        ("Authentication Policy Administrator", (), False),
        (None, (), False),
    ],
)
def test_delegated_issuers_follow_entras_role_tiers(
    api: TestClient, env: Env, issuer_role: str | None, target_roles: tuple[str, ...], allowed: bool
) -> None:
    issuer = make_user(env, roles=(issuer_role,) if issuer_role else ())
    target = make_user(env, roles=target_roles)
    headers = user_auth(env, issuer.id, WRITE)
    before = snapshot(env)
    response = api.post(passes_url(target.id), json={}, headers=headers)
    if allowed:
        assert response.status_code == 201, response.text
        [audit] = audits_of(env, target.id, "Admin registered security info")
        assert audit.initiated_by["user"]["userPrincipalName"] == issuer.user_principal_name
    else:
        assert_graph_error(response, 403, "accessDenied")
        assert snapshot(env) == before


@pytest.mark.parametrize(
    ("reader_role", "allowed"),
    [
        ("Global Reader", True),
        ("Authentication Administrator", True),
        ("Privileged Authentication Administrator", True),
        ("Global Administrator", True),
        ("Authentication Policy Administrator", False),
        (None, False),
    ],
)
def test_delegated_reads_of_another_user_need_a_reader_role(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, reader_role: str | None, allowed: bool
) -> None:
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    reader = make_user(env, roles=(reader_role,) if reader_role else ())
    headers = user_auth(env, reader.id, "UserAuthenticationMethod.Read.All")
    for url in (passes_url(ada.id), f"/v1.0/users/{ada.id}/authentication/methods"):
        response = api.get(url, headers=headers)
        if allowed:
            assert response.status_code == 200 and len(response.json()["value"]) == 1
        else:
            assert_graph_error(response, 403, "accessDenied")


def test_delegated_caller_without_the_all_scope_cannot_act_on_others(
    api: TestClient, env: Env, tenant: Initialised, ada: User
) -> None:
    headers = user_auth(env, tenant.admin.id, "UserAuthenticationMethod.ReadWrite")
    before = snapshot(env)
    assert_graph_error(api.post(passes_url(ada.id), json={}, headers=headers), 403, "accessDenied")
    assert_graph_error(api.get(passes_url(ada.id), headers=headers), 403, "accessDenied")
    assert snapshot(env) == before


def test_delegated_admin_reads_own_methods_through_users_path(
    api: TestClient, env: Env, tenant: Initialised
) -> None:
    headers = user_auth(env, tenant.admin.id, "UserAuthenticationMethod.Read")
    listed = api.get(passes_url(tenant.admin.id), headers=headers).json()["value"]
    assert [p["id"] for p in listed] == [tenant.bootstrap_pass.view.row.id]
    assert listed[0]["isUsableOnce"] is True
