"""Passkeys (fido2Methods) and authenticator apps (softwareOathMethods) through the Graph-compatible API:
shapes, reads, deletes, permissions, role tiers, /me and the list of every method."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.passwordless_helpers import (
    FIDO2_TYPE,
    OATH_TYPE,
    READ,
    WRITE,
    fido2_url,
    oath_url,
    store_snapshot,
)
from tests.api.tap_helpers import BASE, TAP_TYPE, audits_of, passes_url, user_auth
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import GPM_AAGUID, make_authenticator_app, make_passkey, make_user

KINDS = {"fido2": fido2_url, "oath": oath_url}


def _make(env: Env, user: User, kind: str) -> str:
    return make_passkey(env, user).id if kind == "fido2" else make_authenticator_app(env, user).id


# --- shapes ------------------------------------------------------------------------------------


def test_fido2_methods_list_shows_graphs_properties_and_the_model_from_the_aaguid(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    first = make_passkey(env, ada, display_name="Pixel 9", last_used_at=clock.now())
    clock.advance(minutes=1)
    second = make_passkey(env, ada, display_name="Old key", aaguid="11111111-2222-3333-4444-555555555555")
    response = api.get(fido2_url(ada.id), headers=writer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/fido2Methods"
    assert body["value"] == [
        {
            "@odata.type": FIDO2_TYPE,
            "id": first.id,
            "displayName": "Pixel 9",
            "createdDateTime": "2026-01-01T09:00:00Z",
            "aaGuid": GPM_AAGUID,
            "model": "Google Password Manager",
            "attestationCertificates": [],
            "attestationLevel": "notAttested",
        },
        {
            "@odata.type": FIDO2_TYPE,
            "id": second.id,
            "displayName": "Old key",
            "createdDateTime": "2026-01-01T09:01:00Z",
            "aaGuid": "11111111-2222-3333-4444-555555555555",
            "model": None,
            "attestationCertificates": [],
            "attestationLevel": "notAttested",
        },
    ]


def test_the_all_zero_aaguid_has_no_model(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    make_passkey(env, ada, aaguid="00000000-0000-0000-0000-000000000000")
    [listed] = api.get(fido2_url(ada.id), headers=writer).json()["value"]
    assert listed["model"] is None


def test_beta_adds_last_used_date_time_to_passkeys_and_times_to_apps(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    make_passkey(env, ada, last_used_at=clock.now() + timedelta(minutes=5))
    make_authenticator_app(env, ada)
    [passkey] = api.get(fido2_url(ada.id, "beta"), headers=writer).json()["value"]
    assert passkey["lastUsedDateTime"] == "2026-01-01T09:05:00Z"
    [app] = api.get(oath_url(ada.id, "beta"), headers=writer).json()["value"]
    assert (app["createdDateTime"], app["lastUsedDateTime"], app["secretKey"]) == (
        "2026-01-01T09:00:00Z",
        None,
        None,
    )


def test_software_oath_methods_show_id_and_a_null_secret_key_only(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    app = make_authenticator_app(env, ada)
    body = api.get(oath_url(ada.id), headers=writer).json()
    assert body["@odata.context"].endswith(f"#users('{ada.id}')/authentication/softwareOathMethods")
    assert body["value"] == [{"@odata.type": OATH_TYPE, "id": app.id, "secretKey": None}]


@pytest.mark.parametrize("kind", KINDS)
def test_get_one_by_id_in_any_case_and_by_user_principal_name(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, kind: str
) -> None:
    method_id = _make(env, ada, kind)
    url = KINDS[kind]("ADA@contoso.example")
    response = api.get(f"{url}/{method_id.upper()}", headers=writer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == method_id
    assert body["@odata.context"].endswith(
        "#users('ADA%40contoso.example')/authentication/" + url.rsplit("/", 1)[1] + "/$entity"
    )


def test_reads_never_show_key_material(api: TestClient, env: Env, writer: dict[str, str], ada: User) -> None:
    passkey = make_passkey(env, ada)
    app = make_authenticator_app(env, ada)
    everything = json.dumps(
        [
            api.get(url, headers=writer).json()
            for url in (fido2_url(ada.id), oath_url(ada.id), f"/beta/users/{ada.id}/authentication/methods")
        ]
    )
    assert passkey.credential_id not in everything
    assert app.secret_sealed not in everything
    assert "publicKey" not in everything


# --- the list of every method ---------------------------------------------------------------------


def test_methods_list_holds_every_kind_typed_by_odata_type(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    passkey = make_passkey(env, ada)
    app = make_authenticator_app(env, ada)
    listed = api.get(f"/v1.0/users/{ada.id}/authentication/methods", headers=writer).json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in listed] == [
        (TAP_TYPE, created["id"]),
        (FIDO2_TYPE, passkey.id),
        (OATH_TYPE, app.id),
    ]
    one = api.get(f"/v1.0/users/{ada.id}/authentication/methods/{passkey.id}", headers=writer).json()
    assert (one["@odata.type"], one["model"]) == (FIDO2_TYPE, "Google Password Manager")


def test_methods_list_by_user_principal_name_finds_passkeys_and_apps(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    make_passkey(env, ada)
    make_passkey(env, ada, display_name="Laptop")
    make_authenticator_app(env, ada)
    listed = api.get("/v1.0/users/Ada@Contoso.example/authentication/methods", headers=writer).json()["value"]
    assert [m["@odata.type"] for m in listed] == [FIDO2_TYPE, FIDO2_TYPE, OATH_TYPE]


def test_methods_list_shows_no_other_users_methods(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    grace = make_user(env, "grace@contoso.example")
    make_passkey(env, grace)
    make_authenticator_app(env, grace)
    assert api.get(f"/v1.0/users/{ada.id}/authentication/methods", headers=writer).json()["value"] == []


# --- not found ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_or_another_users_method_is_404_item_not_found_and_changes_nothing(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, kind: str, method: str
) -> None:
    grace = make_user(env, "grace@contoso.example")
    others = _make(env, grace, kind)
    _make(env, ada, kind)
    before = store_snapshot(env)
    for method_id in (str(uuid.uuid4()), others, "not-a-guid"):
        response = api.request(method, f"{KINDS[kind](ada.id)}/{method_id}", headers=writer)
        error = assert_graph_error(response, 404, "itemNotFound")
        assert method_id in error["message"]
    assert store_snapshot(env) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_user_is_404_request_resource_not_found(
    api: TestClient, env: Env, writer: dict[str, str], kind: str, method: str
) -> None:
    before = store_snapshot(env)
    for user in (str(uuid.uuid4()), "nobody@contoso.example"):
        url = KINDS[kind](user) + ("" if method == "GET" else f"/{uuid.uuid4()}")
        assert_graph_error(api.request(method, url, headers=writer), 404, "Request_ResourceNotFound")
    assert store_snapshot(env) == before


# --- delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("fido2", "Admin deleted passkey (FIDO2) method for user"),
        ("oath", "Admin deleted authenticator app (software OATH) method for user"),
    ],
)
def test_admin_delete_is_204_removes_the_method_and_is_audited_without_key_material(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, kind: str, reason: str
) -> None:
    keep = _make(env, ada, kind)
    method_id = _make(env, ada, kind)
    response = api.delete(f"{KINDS[kind](ada.id)}/{method_id}", headers=writer)
    assert response.status_code == 204 and response.content == b""
    assert [m["id"] for m in api.get(KINDS[kind](ada.id), headers=writer).json()["value"]] == [keep]
    [entry] = audits_of(env, ada.id, "Admin deleted security info")
    assert (entry.result_reason, entry.operation_type, entry.category, entry.logged_by_service) == (
        reason,
        "Delete",
        "UserManagement",
        "Authentication Methods",
    )
    assert entry.initiated_by["app"] is not None
    assert entry.target_resources[0]["userPrincipalName"] == "ada@contoso.example"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "permissions", [(), ("User.ReadWrite.All",), (READ,), ("UserAuthMethod-TAP.ReadWrite.All",)]
)
def test_delete_without_a_write_permission_is_403_access_denied_and_changes_nothing(
    api: TestClient, env: Env, app_auth: TokenFactory, ada: User, kind: str, permissions: tuple[str, ...]
) -> None:
    method_id = _make(env, ada, kind)
    headers = app_auth(*permissions)
    before = store_snapshot(env)
    # The permission is checked first: an unknown user is 403 too.
    for user in (ada.id, str(uuid.uuid4())):
        response = api.delete(f"{KINDS[kind](user)}/{method_id}", headers=headers)
        error = assert_graph_error(response, 403, "accessDenied")
        assert WRITE in error["message"]
    assert store_snapshot(env) == before


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("permission", [READ, WRITE])
def test_reads_take_a_read_or_write_permission(
    api: TestClient, env: Env, app_auth: TokenFactory, ada: User, kind: str, permission: str
) -> None:
    method_id = _make(env, ada, kind)
    headers = app_auth(permission)
    assert [m["id"] for m in api.get(KINDS[kind](ada.id), headers=headers).json()["value"]] == [method_id]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("permission", ["User.Read.All", "UserAuthMethod-TAP.Read.All"])
def test_reads_without_a_methods_permission_are_403_access_denied(
    api: TestClient, env: Env, app_auth: TokenFactory, ada: User, kind: str, permission: str
) -> None:
    method_id = _make(env, ada, kind)
    headers = app_auth(permission)
    assert_graph_error(api.get(KINDS[kind](ada.id), headers=headers), 403, "accessDenied")
    assert_graph_error(api.get(f"{KINDS[kind](ada.id)}/{method_id}", headers=headers), 403, "accessDenied")


# --- delegated callers and role tiers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("deleter_role", "target_roles", "allowed"),
    [
        ("Global Administrator", ("Global Administrator",), True),
        ("Privileged Authentication Administrator", ("Global Administrator",), True),
        ("Authentication Administrator", (), True),
        ("Authentication Administrator", ("Global Reader",), False),
        ("Authentication Administrator", ("Authentication Administrator",), False),
        ("Global Reader", (), False),
        ("User Administrator", (), False),
        (None, (), False),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_delegated_deleters_follow_entras_role_tiers(
    api: TestClient,
    env: Env,
    kind: str,
    deleter_role: str | None,
    target_roles: tuple[str, ...],
    allowed: bool,
) -> None:
    deleter = make_user(env, roles=(deleter_role,) if deleter_role else ())
    target = make_user(env, roles=target_roles)
    method_id = _make(env, target, kind)
    before = store_snapshot(env)
    response = api.delete(f"{KINDS[kind](target.id)}/{method_id}", headers=user_auth(env, deleter.id, WRITE))
    if allowed:
        assert response.status_code == 204, response.text
        [entry] = audits_of(env, target.id, "Admin deleted security info")
        assert entry.initiated_by["user"]["userPrincipalName"] == deleter.user_principal_name
    else:
        assert_graph_error(response, 403, "accessDenied")
        assert store_snapshot(env) == before


def test_authentication_administrator_cannot_delete_an_administrators_passkey(
    api: TestClient, env: Env
) -> None:
    helpdesk = make_user(env, roles=("Authentication Administrator",))
    admin = make_user(env, roles=("Global Administrator",))
    passkey = make_passkey(env, admin)
    before = store_snapshot(env)
    response = api.delete(f"{fido2_url(admin.id)}/{passkey.id}", headers=user_auth(env, helpdesk.id, WRITE))
    error = assert_graph_error(response, 403, "accessDenied")
    assert "Privileged Authentication Administrator" in error["message"]
    assert store_snapshot(env) == before


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
def test_delegated_reads_of_another_users_passkeys_and_apps_need_a_reader_role(
    api: TestClient, env: Env, ada: User, reader_role: str | None, allowed: bool
) -> None:
    make_passkey(env, ada)
    make_authenticator_app(env, ada)
    reader = make_user(env, roles=(reader_role,) if reader_role else ())
    headers = user_auth(env, reader.id, READ)
    for url in (fido2_url(ada.id), oath_url(ada.id)):
        response = api.get(url, headers=headers)
        if allowed:
            assert response.status_code == 200 and len(response.json()["value"]) == 1
        else:
            assert_graph_error(response, 403, "accessDenied")


# --- /me -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["fido2Methods", "softwareOathMethods"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_me_with_an_application_token_is_400(
    api: TestClient, writer: dict[str, str], path: str, method: str
) -> None:
    url = f"/v1.0/me/authentication/{path}" + ("" if method == "GET" else f"/{uuid.uuid4()}")
    error = assert_graph_error(api.request(method, url, headers=writer), 400, "BadRequest")
    assert error["message"] == "/me request is only valid with delegated authentication flow."


@pytest.mark.parametrize(("kind", "path"), [("fido2", "fido2Methods"), ("oath", "softwareOathMethods")])
def test_me_reads_own_and_deletes_own_audited_as_the_user_keeping_the_session(
    api: TestClient, env: Env, ada: User, clock: ManualClock, kind: str, path: str
) -> None:
    method_id = _make(env, ada, kind)
    own = user_auth(env, ada.id, "UserAuthenticationMethod.ReadWrite")
    listed = api.get(f"/v1.0/me/authentication/{path}", headers=own).json()
    assert listed["@odata.context"] == f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/{path}"
    assert [m["id"] for m in listed["value"]] == [method_id]
    assert api.get(f"/v1.0/me/authentication/{path}/{method_id}", headers=own).json()["id"] == method_id
    clock.advance(minutes=1)
    assert api.delete(f"/v1.0/me/authentication/{path}/{method_id}", headers=own).status_code == 204
    [entry] = audits_of(env, ada.id, "User deleted security info")
    assert entry.result_reason.startswith("User deleted ")
    assert entry.initiated_by["user"]["id"] == ada.id
    assert audits_of(env, ada.id, "Invalidate all refresh tokens for user") == []
    # The user's own token still works: deleting one's own method keeps one's session.
    assert api.get(f"/v1.0/me/authentication/{path}", headers=own).json()["value"] == []


@pytest.mark.parametrize(("kind", "path"), [("fido2", "fido2Methods"), ("oath", "softwareOathMethods")])
def test_me_delete_needs_a_write_scope_and_changes_nothing(
    api: TestClient, env: Env, ada: User, kind: str, path: str
) -> None:
    method_id = _make(env, ada, kind)
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    before = store_snapshot(env)
    response = api.delete(f"/v1.0/me/authentication/{path}/{method_id}", headers=own)
    assert_graph_error(response, 403, "accessDenied")
    assert store_snapshot(env) == before


def test_delegated_caller_without_the_all_scope_cannot_delete_others_methods(
    api: TestClient, env: Env, tenant: Initialised, ada: User
) -> None:
    passkey = make_passkey(env, ada)
    headers = user_auth(env, tenant.admin.id, "UserAuthenticationMethod.ReadWrite")
    before = store_snapshot(env)
    assert_graph_error(api.delete(f"{fido2_url(ada.id)}/{passkey.id}", headers=headers), 403, "accessDenied")
    assert_graph_error(api.get(fido2_url(ada.id), headers=headers), 403, "accessDenied")
    assert store_snapshot(env) == before


def test_openapi_documents_the_passwordless_and_revocation_paths(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for version in ("v1.0", "beta"):
        for path, method in (
            ("/users/{user_id}/authentication/fido2Methods", "get"),
            ("/users/{user_id}/authentication/fido2Methods/{method_id}", "delete"),
            ("/me/authentication/fido2Methods/{method_id}", "get"),
            ("/users/{user_id}/authentication/softwareOathMethods", "get"),
            ("/me/authentication/softwareOathMethods/{method_id}", "delete"),
            ("/users/{user_id}/revokeSignInSessions", "post"),
            ("/me/revokeSignInSessions", "post"),
        ):
            assert method in paths[f"/{version}{path}"], path
