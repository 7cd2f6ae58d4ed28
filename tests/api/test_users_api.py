"""Graph's users API: list, create, read by id or UPN, update, delete, /me; permissions and audit."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, GroupMember, User
from passbridge.tokens.service import sign_claims
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_user

BASE = "http://localhost:8000"
VERSIONS = pytest.mark.parametrize("version", ["v1.0", "beta"])


def snapshot(env: Env) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """Users (every stored column), memberships and the audit count: what 'store unchanged' means."""
    with env.db.transaction("read") as tx:
        users = [
            (
                u.id,
                u.user_principal_name,
                u.upn_key,
                u.display_name,
                u.mail,
                u.account_enabled,
                u.sessions_valid_from,
            )
            for u in tx.session.scalars(select(User).order_by(User.id))
        ]
        members = [(m.group_id, m.user_id) for m in tx.session.scalars(select(GroupMember))]
        audits = len(tx.session.scalars(select(AuditEntry)).all())
    return users, sorted(members), audits


def audit_entries(env: Env, activity: str) -> list[AuditEntry]:
    with env.db.transaction("read") as tx:
        query = select(AuditEntry).where(AuditEntry.activity_display_name == activity)
        return list(tx.session.scalars(query))


def user_token(env: Env, user: User, *, scopes: str = "User.Read") -> dict[str, str]:
    """A delegated access token for `user`, as the sign-in flow would mint it."""
    now = int(env.clock.now().timestamp())
    claims = {
        "iss": env.settings.base_url,
        "aud": env.settings.base_url,
        "oid": user.id,
        "sub": user.id,
        "idtyp": "user",
        "scp": scopes,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    with env.db.transaction("read") as tx:
        token = sign_claims(tx, env, claims)
    return {"Authorization": f"Bearer {token}"}


NEW_USER = {
    "accountEnabled": True,
    "displayName": "Adele Vance",
    "mailNickname": "AdeleV",
    "userPrincipalName": "AdeleV@contoso.example",
    "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "xWwvJ]6NMw+bWH-d"},
}


# --- list ----------------------------------------------------------------------------------------


@VERSIONS
def test_list_users_returns_graph_collection_with_context(
    api: TestClient, app_auth: TokenFactory, tenant: Initialised, version: str
) -> None:
    make_user(api.app.state.env, "kim@contoso.example", display_name="Kim Akers")
    response = api.get(f"/{version}/users", headers=app_auth("User.Read.All"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{BASE}/{version}/$metadata#users"
    assert "@odata.nextLink" not in body and "@odata.count" not in body
    assert [u["userPrincipalName"] for u in body["value"]] == ["admin@contoso.example", "kim@contoso.example"]
    kim = body["value"][1]
    # Graph's default set: the HR properties other than these three come only with $select.
    assert set(kim) == {
        "id",
        "userPrincipalName",
        "displayName",
        "mail",
        "accountEnabled",
        "createdDateTime",
        "jobTitle",
        "mobilePhone",
        "officeLocation",
    }
    assert (kim["displayName"], kim["accountEnabled"], kim["createdDateTime"]) == (
        "Kim Akers",
        True,
        "2026-01-01T09:00:00Z",
    )


def test_list_users_accepts_read_write_permission(api: TestClient, app_auth: TokenFactory) -> None:
    assert api.get("/v1.0/users", headers=app_auth("User.ReadWrite.All")).status_code == 200


@pytest.mark.parametrize(
    "permissions", [(), ("Group.Read.All",), ("UserAuthenticationMethod.ReadWrite.All",)]
)
def test_list_users_without_user_read_permission_is_403(
    api: TestClient, app_auth: TokenFactory, permissions: tuple[str, ...]
) -> None:
    response = api.get("/v1.0/users", headers=app_auth(*permissions))
    error = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert error["message"] == (
        "Insufficient privileges to complete the operation. "
        "Requires one of: User.Read.All, User.ReadWrite.All."
    )


# --- create --------------------------------------------------------------------------------------


@VERSIONS
def test_create_user_answers_201_with_the_user_and_audits_it(
    api: TestClient, app_auth: TokenFactory, env: Env, version: str
) -> None:
    response = api.post(f"/{version}/users", json=NEW_USER, headers=app_auth("User.ReadWrite.All"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["@odata.context"] == f"{BASE}/{version}/$metadata#users/$entity"
    assert uuid.UUID(body["id"])
    assert {k: body[k] for k in ("userPrincipalName", "displayName", "mail", "accountEnabled")} == {
        "userPrincipalName": "AdeleV@contoso.example",
        "displayName": "Adele Vance",
        "mail": None,
        "accountEnabled": True,
    }
    assert "passwordProfile" not in body
    fetched = api.get(f"/{version}/users/{body['id']}", headers=app_auth("User.Read.All")).json()
    assert fetched["userPrincipalName"] == "AdeleV@contoso.example"
    [entry] = audit_entries(env, "Add user")[-1:]
    assert entry.target_resources[0]["id"] == body["id"]
    assert entry.initiated_by["app"]["displayName"].startswith("App ")


def test_create_user_never_stores_or_logs_the_password(
    api: TestClient, app_auth: TokenFactory, env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = api.post("/v1.0/users", json=NEW_USER, headers=app_auth("User.ReadWrite.All"))
    assert response.status_code == 201
    secret = NEW_USER["passwordProfile"]["password"]  # type: ignore[index]
    assert secret not in response.text
    assert secret not in caplog.text
    with env.db.transaction("read") as tx:
        stored = [
            repr(row.__dict__) for model in (User, AuditEntry) for row in tx.session.scalars(select(model))
        ]
    assert all(secret not in text for text in stored)


def test_create_user_with_sdk_annotations_and_mail_is_accepted(
    api: TestClient, app_auth: TokenFactory
) -> None:
    body = {
        "@odata.type": "#microsoft.graph.user",
        "displayName": "Bo",
        "userPrincipalName": "bo@contoso.example",
        "mail": "bo@contoso.example",
        "accountEnabled": False,
        "passwordPolicies": "DisablePasswordExpiration",
        "passwordProfile": {"@odata.type": "#microsoft.graph.passwordProfile", "password": "x"},
    }
    response = api.post("/v1.0/users", json=body, headers=app_auth("User.ReadWrite.All"))
    assert response.status_code == 201, response.text
    assert (response.json()["mail"], response.json()["accountEnabled"]) == ("bo@contoso.example", False)


def test_create_user_without_write_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    headers = app_auth("User.Read.All")
    before = snapshot(env)
    response = api.post("/v1.0/users", json=NEW_USER, headers=headers)
    assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert snapshot(env) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ageGroup": "Adult"}, "Invalid property 'ageGroup' for this resource."),
        (
            {"accountEnabled": "yes"},
            "Invalid value for property 'accountEnabled': Input should be a valid boolean.",
        ),
        ({"displayName": None}, "Invalid value for property 'displayName': Input should be a valid string."),
        (
            {"userPrincipalName": "no-at-sign"},
            "userPrincipalName 'no-at-sign' must have the form alias@domain.",
        ),
        ({"displayName": "   "}, "displayName must not be empty."),
        ({"mail": "not mail"}, "userPrincipalName 'not mail' must have the form alias@domain."),
        (
            {"passwordProfile": {"password": "x", "expires": 1}},
            "Invalid property 'passwordProfile.expires' for this resource.",
        ),
        (
            {"@odata.type": "#microsoft.graph.group"},
            "The @odata.type '#microsoft.graph.group' does not match this resource; "
            "expected #microsoft.graph.user.",
        ),
    ],
)
def test_create_user_with_invalid_body_is_400_bad_request_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, change: dict[str, Any], message: str
) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.post("/v1.0/users", json={**NEW_USER, **change}, headers=headers)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == message
    assert snapshot(env) == before


def test_create_user_without_display_name_is_400(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    body = {k: v for k, v in NEW_USER.items() if k != "displayName"}
    error = assert_graph_error(api.post("/v1.0/users", json=body, headers=headers), 400, "badRequest")
    assert error["message"] == "Invalid value for property 'displayName': Field required."
    assert snapshot(env) == before


def test_create_user_with_bad_mail_nickname_is_400(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.post("/v1.0/users", json={**NEW_USER, "mailNickname": "a b"}, headers=headers)
    assert assert_graph_error(response, 400, "badRequest")["message"].startswith(
        "Invalid value for property 'mailNickname'"
    )
    assert snapshot(env) == before


def test_create_user_with_taken_upn_in_other_case_is_400_request_bad_request(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.post(
        "/v1.0/users", json={**NEW_USER, "userPrincipalName": "ADMIN@contoso.example"}, headers=headers
    )
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert error["message"] == (
        "Another object with the same value for property userPrincipalName already exists: "
        "'ADMIN@contoso.example'."
    )
    assert snapshot(env) == before


# --- read one ------------------------------------------------------------------------------------


@VERSIONS
def test_get_user_by_id_or_by_upn_in_any_case(
    api: TestClient, app_auth: TokenFactory, tenant: Initialised, version: str
) -> None:
    headers = app_auth("User.Read.All")
    by_id = api.get(f"/{version}/users/{tenant.admin.id}", headers=headers)
    by_upn = api.get(f"/{version}/users/ADMIN@Contoso.Example", headers=headers)
    assert by_id.status_code == by_upn.status_code == 200
    assert by_id.json() == by_upn.json()
    assert by_id.json()["@odata.context"] == f"{BASE}/{version}/$metadata#users/$entity"
    assert by_id.json()["id"] == tenant.admin.id


@pytest.mark.parametrize("ref", ["ghost@contoso.example", "6f1967b7-15e8-4935-ac26-d50770ed07a7"])
def test_get_unknown_user_is_404_request_resource_not_found(
    api: TestClient, app_auth: TokenFactory, ref: str
) -> None:
    error = assert_graph_error(
        api.get(f"/v1.0/users/{ref}", headers=app_auth("User.Read.All")), 404, "Request_ResourceNotFound"
    )
    assert error["message"] == (
        f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present."
    )


def test_get_user_with_select_returns_only_those_properties(
    api: TestClient, app_auth: TokenFactory, tenant: Initialised
) -> None:
    response = api.get(
        f"/v1.0/users/{tenant.admin.id}?$select=displayName,ID", headers=app_auth("User.Read.All")
    )
    assert response.json() == {
        "@odata.context": f"{BASE}/v1.0/$metadata#users(displayName,id)/$entity",
        "displayName": "Administrator",
        "id": tenant.admin.id,
    }


def test_get_user_without_permission_is_403(
    api: TestClient, app_auth: TokenFactory, tenant: Initialised
) -> None:
    assert_graph_error(
        api.get(f"/v1.0/users/{tenant.admin.id}", headers=app_auth("Group.Read.All")),
        403,
        "Authorization_RequestDenied",
    )


# --- update --------------------------------------------------------------------------------------


@VERSIONS
def test_patch_user_answers_204_and_changes_only_given_properties(
    api: TestClient, app_auth: TokenFactory, env: Env, clock: ManualClock, version: str
) -> None:
    user = make_user(env, "lee@contoso.example", display_name="Lee")
    clock.advance(minutes=5)
    headers = app_auth("User.ReadWrite.All")
    response = api.patch(
        f"/{version}/users/{user.id}",
        headers=headers,
        json={
            "displayName": "Lee Gu",
            "mail": "lee.gu@contoso.example",
            "accountEnabled": False,
            "userPrincipalName": "Lee.Gu@contoso.example",
        },
    )
    assert response.status_code == 204 and response.content == b""
    after = api.get(f"/{version}/users/lee.gu@CONTOSO.example", headers=headers).json()
    assert {k: after[k] for k in ("id", "displayName", "mail", "accountEnabled", "userPrincipalName")} == {
        "id": user.id,
        "displayName": "Lee Gu",
        "mail": "lee.gu@contoso.example",
        "accountEnabled": False,
        "userPrincipalName": "Lee.Gu@contoso.example",
    }
    assert_graph_error(
        api.get(f"/{version}/users/lee@contoso.example", headers=headers), 404, "Request_ResourceNotFound"
    )
    with env.db.transaction("read") as tx:
        stored = tx.session.get(User, user.id)
        assert stored is not None and stored.sessions_valid_from == clock.now()
    [entry] = audit_entries(env, "Update user")
    assert entry.operation_type == "Update" and entry.category == "UserManagement"
    modified = {
        p["displayName"]: (p["oldValue"], p["newValue"])
        for p in entry.target_resources[0]["modifiedProperties"]
    }
    assert modified == {
        "DisplayName": ('"Lee"', '"Lee Gu"'),
        "UserPrincipalName": ('"lee@contoso.example"', '"Lee.Gu@contoso.example"'),
        "Mail": ("null", '"lee.gu@contoso.example"'),
        "AccountEnabled": ("true", "false"),
    }


def test_patch_user_mail_null_clears_it(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    headers = app_auth("User.ReadWrite.All")
    created = api.post(
        "/v1.0/users", headers=headers, json={**NEW_USER, "mail": "adele@contoso.example"}
    ).json()
    assert api.patch(f"/v1.0/users/{created['id']}", headers=headers, json={"mail": None}).status_code == 204
    assert api.get(f"/v1.0/users/{created['id']}", headers=headers).json()["mail"] is None


def test_patch_user_with_unchanged_values_writes_no_audit(
    api: TestClient, app_auth: TokenFactory, env: Env, tenant: Initialised
) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.patch(
        f"/v1.0/users/{tenant.admin.id}",
        headers=headers,
        json={"displayName": "Administrator", "mailNickname": "admin"},
    )
    assert response.status_code == 204
    assert snapshot(env) == before


def test_patch_user_may_change_only_the_case_of_its_own_upn(
    api: TestClient, app_auth: TokenFactory, tenant: Initialised
) -> None:
    headers = app_auth("User.ReadWrite.All")
    response = api.patch(
        f"/v1.0/users/{tenant.admin.id}", headers=headers, json={"userPrincipalName": "Admin@contoso.example"}
    )
    assert response.status_code == 204
    assert api.get(f"/v1.0/users/{tenant.admin.id}", headers=headers).json()["userPrincipalName"] == (
        "Admin@contoso.example"
    )


def test_patch_user_to_a_taken_upn_is_400_request_bad_request_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    user = make_user(env, "lee@contoso.example")
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.patch(
        f"/v1.0/users/{user.id}",
        headers=headers,
        json={"displayName": "New", "userPrincipalName": "admin@CONTOSO.example"},
    )
    assert_graph_error(response, 400, "Request_BadRequest")
    assert snapshot(env) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"displayName": None}, "Invalid value for property 'displayName': null is not allowed."),
        ({"accountEnabled": None}, "Invalid value for property 'accountEnabled': null is not allowed."),
        (
            {"accountEnabled": 0},
            "Invalid value for property 'accountEnabled': Input should be a valid boolean.",
        ),
        ({"userPrincipalName": "x@y"}, "userPrincipalName 'x@y' has an invalid domain 'y'."),
        ({"surname": "Gu"}, "Invalid property 'surname' for this resource."),
        (
            {"passwordProfile": {"password": "Secret-1"}},
            "Passbridge is passwordless: passwordProfile cannot be set. "
            "Issue a Temporary Access Pass to let the user sign in.",
        ),
    ],
)
def test_patch_user_with_invalid_body_is_400_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, body: dict[str, Any], message: str
) -> None:
    user = make_user(env, "lee@contoso.example")
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.patch(f"/v1.0/users/{user.id}", headers=headers, json=body)
    assert assert_graph_error(response, 400, "badRequest")["message"] == message
    assert "Secret-1" not in response.text
    assert snapshot(env) == before


def test_patch_unknown_user_is_404(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    response = api.patch("/v1.0/users/ghost@contoso.example", headers=headers, json={"displayName": "X"})
    assert_graph_error(response, 404, "Request_ResourceNotFound")
    assert snapshot(env) == before


def test_patch_user_with_read_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, tenant: Initialised
) -> None:
    headers = app_auth("User.Read.All")
    before = snapshot(env)
    response = api.patch(f"/v1.0/users/{tenant.admin.id}", headers=headers, json={"displayName": "X"})
    assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert snapshot(env) == before


# --- delete --------------------------------------------------------------------------------------


@VERSIONS
def test_delete_user_answers_204_audits_and_the_user_is_gone(
    api: TestClient, app_auth: TokenFactory, env: Env, version: str
) -> None:
    user = make_user(env, "lee@contoso.example")
    headers = app_auth("User.ReadWrite.All")
    response = api.delete(f"/{version}/users/{user.id}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert_graph_error(
        api.get(f"/{version}/users/{user.id}", headers=headers), 404, "Request_ResourceNotFound"
    )
    [entry] = audit_entries(env, "Delete user")
    assert entry.target_resources[0]["userPrincipalName"] == "lee@contoso.example"


def test_delete_unknown_user_is_404_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    headers = app_auth("User.ReadWrite.All")
    before = snapshot(env)
    assert_graph_error(
        api.delete("/v1.0/users/ghost@contoso.example", headers=headers), 404, "Request_ResourceNotFound"
    )
    assert snapshot(env) == before


def test_delete_user_with_read_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    user = make_user(env, "lee@contoso.example")
    headers = app_auth("User.Read.All")
    before = snapshot(env)
    assert_graph_error(
        api.delete(f"/v1.0/users/{user.id}", headers=headers), 403, "Authorization_RequestDenied"
    )
    assert snapshot(env) == before


# --- /me -----------------------------------------------------------------------------------------


@VERSIONS
def test_me_with_application_token_is_400_bad_request(
    api: TestClient, app_auth: TokenFactory, version: str
) -> None:
    error = assert_graph_error(
        api.get(f"/{version}/me", headers=app_auth("User.Read.All")), 400, "BadRequest"
    )
    assert error["message"] == "/me request is only valid with delegated authentication flow."


@VERSIONS
def test_me_with_delegated_token_returns_the_signed_in_user(api: TestClient, env: Env, version: str) -> None:
    user = make_user(env, "lee@contoso.example", display_name="Lee")
    response = api.get(f"/{version}/me?$select=displayName,userPrincipalName", headers=user_token(env, user))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "@odata.context": f"{BASE}/{version}/$metadata#users(displayName,userPrincipalName)/$entity",
        "displayName": "Lee",
        "userPrincipalName": "lee@contoso.example",
    }


def test_me_with_delegated_token_lacking_a_user_scope_is_403(api: TestClient, env: Env) -> None:
    user = make_user(env, "lee@contoso.example")
    response = api.get("/v1.0/me", headers=user_token(env, user, scopes="openid profile"))
    assert_graph_error(response, 403, "Authorization_RequestDenied")
