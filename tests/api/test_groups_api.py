"""Graph's groups API: security groups, their members and member references; permissions and audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import Group
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_users_api import audit_entries
from tests.api.test_users_api import snapshot as user_snapshot
from tests.factories import make_group, make_user

BASE = "http://localhost:8000"
VERSIONS = pytest.mark.parametrize("version", ["v1.0", "beta"])
NEW_GROUP = {
    "displayName": "Helpdesk",
    "mailEnabled": False,
    "mailNickname": "helpdesk",
    "securityEnabled": True,
}


def snapshot(env: Env) -> tuple[Any, ...]:
    with env.db.transaction("read") as tx:
        groups = [
            (g.id, g.display_name, g.description)
            for g in tx.session.scalars(select(Group).order_by(Group.id))
        ]
    return (*user_snapshot(env), groups)


@VERSIONS
def test_create_group_answers_201_with_a_security_group_and_audits_it(
    api: TestClient, app_auth: TokenFactory, env: Env, version: str
) -> None:
    body = {
        "@odata.type": "#microsoft.graph.group",
        **NEW_GROUP,
        "description": "Issues passes",
        "groupTypes": [],
    }
    response = api.post(f"/{version}/groups", json=body, headers=app_auth("Group.ReadWrite.All"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["@odata.context"] == f"{BASE}/{version}/$metadata#groups/$entity"
    assert {
        k: created[k]
        for k in (
            "displayName",
            "description",
            "securityEnabled",
            "mailEnabled",
            "groupTypes",
            "createdDateTime",
        )
    } == {
        "displayName": "Helpdesk",
        "description": "Issues passes",
        "securityEnabled": True,
        "mailEnabled": False,
        "groupTypes": [],
        "createdDateTime": "2026-01-01T09:00:00Z",
    }
    [entry] = audit_entries(env, "Add group")
    assert entry.target_resources[0]["id"] == created["id"] and entry.category == "GroupManagement"


def test_groups_may_share_a_display_name(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth("Group.ReadWrite.All")
    first = api.post("/v1.0/groups", json=NEW_GROUP, headers=headers)
    second = api.post("/v1.0/groups", json=NEW_GROUP, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"mailEnabled": True},
            "badRequest",
            "Passbridge holds security groups only: send mailEnabled false, "
            "securityEnabled true and an empty groupTypes.",
        ),
        (
            {"securityEnabled": False},
            "badRequest",
            "Passbridge holds security groups only: send mailEnabled false, "
            "securityEnabled true and an empty groupTypes.",
        ),
        (
            {"groupTypes": ["Unified"]},
            "badRequest",
            "Passbridge holds security groups only: send mailEnabled "
            "false, securityEnabled true and an empty groupTypes.",
        ),
        ({"visibility": "Private"}, "badRequest", "Invalid property 'visibility' for this resource."),
        ({"displayName": ""}, "badRequest", "displayName must not be empty."),
        (
            {"displayName": 5},
            "badRequest",
            "Invalid value for property 'displayName': Input should be a valid string.",
        ),
    ],
)
def test_create_group_with_invalid_body_is_400_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, change: dict[str, Any], code: str, message: str
) -> None:
    headers = app_auth("Group.ReadWrite.All")
    before = snapshot(env)
    response = api.post("/v1.0/groups", json={**NEW_GROUP, **change}, headers=headers)
    assert assert_graph_error(response, 400, code)["message"] == message
    assert snapshot(env) == before


@pytest.mark.parametrize("permissions", [("Group.Read.All",), ("User.ReadWrite.All",)])
def test_create_group_without_group_write_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, permissions: tuple[str, ...]
) -> None:
    headers = app_auth(*permissions)
    before = snapshot(env)
    assert_graph_error(
        api.post("/v1.0/groups", json=NEW_GROUP, headers=headers), 403, "Authorization_RequestDenied"
    )
    assert snapshot(env) == before


@VERSIONS
def test_list_and_get_groups(api: TestClient, app_auth: TokenFactory, env: Env, version: str) -> None:
    b = make_group(env, "Beta team")
    a = make_group(env, "Alpha team")
    headers = app_auth("Group.Read.All")
    listed = api.get(f"/{version}/groups", headers=headers).json()
    assert listed["@odata.context"] == f"{BASE}/{version}/$metadata#groups"
    assert [g["id"] for g in listed["value"]] == [a.id, b.id]
    one = api.get(f"/{version}/groups/{a.id}", headers=headers).json()
    assert one["@odata.context"] == f"{BASE}/{version}/$metadata#groups/$entity"
    assert (one["id"], one["displayName"]) == (a.id, "Alpha team")


def test_get_group_with_select(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    group = make_group(env, "Alpha team")
    response = api.get(f"/v1.0/groups/{group.id}?$select=displayName", headers=app_auth("Group.Read.All"))
    assert response.json() == {
        "@odata.context": f"{BASE}/v1.0/$metadata#groups(displayName)/$entity",
        "displayName": "Alpha team",
    }


@pytest.mark.parametrize("ref", ["6f1967b7-15e8-4935-ac26-d50770ed07a7", "Alpha team"])
def test_get_unknown_group_is_404_and_names_do_not_address_groups(
    api: TestClient, app_auth: TokenFactory, env: Env, ref: str
) -> None:
    make_group(env, "Alpha team")
    response = api.get(f"/v1.0/groups/{ref}", headers=app_auth("Group.Read.All"))
    assert_graph_error(response, 404, "Request_ResourceNotFound")


def test_read_groups_without_group_permission_is_403(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    group = make_group(env)
    headers = app_auth("User.Read.All")
    for path in ("/v1.0/groups", f"/v1.0/groups/{group.id}", f"/v1.0/groups/{group.id}/members"):
        assert_graph_error(api.get(path, headers=headers), 403, "Authorization_RequestDenied")


# --- members -------------------------------------------------------------------------------------


@VERSIONS
def test_members_are_users_with_odata_type(
    api: TestClient, app_auth: TokenFactory, env: Env, version: str
) -> None:
    kim = make_user(env, "kim@contoso.example")
    lee = make_user(env, "lee@contoso.example")
    make_user(env, "outsider@contoso.example")
    group = make_group(env, "Helpdesk", members=(lee.id, kim.id))
    response = api.get(f"/{version}/groups/{group.id}/members", headers=app_auth("Group.Read.All"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{BASE}/{version}/$metadata#directoryObjects"
    assert [(m["@odata.type"], m["id"], m["userPrincipalName"]) for m in body["value"]] == [
        ("#microsoft.graph.user", kim.id, "kim@contoso.example"),
        ("#microsoft.graph.user", lee.id, "lee@contoso.example"),
    ]
    assert next(iter(body["value"][0])) == "@odata.type"


def test_members_of_unknown_group_is_404(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get(
        "/v1.0/groups/6f1967b7-15e8-4935-ac26-d50770ed07a7/members", headers=app_auth("Group.Read.All")
    )
    assert_graph_error(response, 404, "Request_ResourceNotFound")


@pytest.mark.parametrize(
    "reference",
    [
        "https://graph.microsoft.com/v1.0/directoryObjects/{id}",
        "http://localhost:8000/beta/users/{id}",
        "https://graph.microsoft.com/v1.0/users/{upn}",
    ],
)
def test_add_member_by_reference_answers_204_and_audits(
    api: TestClient, app_auth: TokenFactory, env: Env, reference: str
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk")
    ref = reference.format(id=user.id, upn=user.user_principal_name)
    response = api.post(
        f"/v1.0/groups/{group.id}/members/$ref",
        json={"@odata.id": ref},
        headers=app_auth("Group.ReadWrite.All"),
    )
    assert response.status_code == 204 and response.content == b""
    members = api.get(f"/v1.0/groups/{group.id}/members", headers=app_auth("Group.Read.All")).json()["value"]
    assert [m["id"] for m in members] == [user.id]
    [entry] = audit_entries(env, "Add member to group")
    assert [t["id"] for t in entry.target_resources] == [user.id, group.id]


def test_add_existing_member_is_400_request_bad_request_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk", members=(user.id,))
    headers = app_auth("Group.ReadWrite.All")
    before = snapshot(env)
    response = api.post(
        f"/v1.0/groups/{group.id}/members/$ref",
        headers=headers,
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user.id}"},
    )
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert error["message"] == (
        "One or more added object references already exist for the following modified "
        "properties: 'members' (kim@contoso.example)."
    )
    assert snapshot(env) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 400, "badRequest", "The request body must hold the member's reference in @odata.id."),
        (
            {"@odata.id": 5},
            400,
            "badRequest",
            "The request body must hold the member's reference in @odata.id.",
        ),
        (
            {"@odata.id": "https://graph.microsoft.com/v1.0/groups/x"},
            400,
            "badRequest",
            "Invalid @odata.id 'https://graph.microsoft.com/v1.0/groups/x': expected a URL ending in "
            "/directoryObjects/{id} or /users/{id}.",
        ),
        (
            {"@odata.id": "https://graph.microsoft.com/v1.0/users/{id}", "id": "x"},
            400,
            "badRequest",
            "Invalid property 'id' for a reference.",
        ),
        (
            {
                "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/6f1967b7-15e8-4935-ac26-d50770ed07a7"
            },
            404,
            "Request_ResourceNotFound",
            "Resource '6f1967b7-15e8-4935-ac26-d50770ed07a7' does not exist or one "
            "of its queried reference-property objects are not present.",
        ),
        (
            {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{group}"},
            400,
            "badRequest",
            "Passbridge groups hold users only; a group cannot be a member of a group.",
        ),
    ],
)
def test_add_member_with_bad_reference_is_refused_and_store_unchanged(
    api: TestClient,
    app_auth: TokenFactory,
    env: Env,
    body: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk")
    other = make_group(env, "Other")
    if isinstance(body.get("@odata.id"), str):
        body = {**body, "@odata.id": body["@odata.id"].replace("{id}", user.id).replace("{group}", other.id)}
    headers = app_auth("Group.ReadWrite.All")
    before = snapshot(env)
    response = api.post(f"/v1.0/groups/{group.id}/members/$ref", json=body, headers=headers)
    assert assert_graph_error(response, status, code)["message"] == message
    assert snapshot(env) == before


def test_add_member_to_unknown_group_is_404(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    user = make_user(env, "kim@contoso.example")
    response = api.post(
        "/v1.0/groups/6f1967b7-15e8-4935-ac26-d50770ed07a7/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/users/{user.id}"},
        headers=app_auth("Group.ReadWrite.All"),
    )
    assert_graph_error(response, 404, "Request_ResourceNotFound")


def test_add_member_with_read_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk")
    headers = app_auth("Group.Read.All", "User.ReadWrite.All")
    before = snapshot(env)
    response = api.post(
        f"/v1.0/groups/{group.id}/members/$ref",
        headers=headers,
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/users/{user.id}"},
    )
    assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert snapshot(env) == before


@VERSIONS
def test_remove_member_answers_204_and_audits(
    api: TestClient, app_auth: TokenFactory, env: Env, version: str
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk", members=(user.id,))
    response = api.delete(
        f"/{version}/groups/{group.id}/members/{user.id}/$ref", headers=app_auth("Group.ReadWrite.All")
    )
    assert response.status_code == 204 and response.content == b""
    members = api.get(f"/{version}/groups/{group.id}/members", headers=app_auth("Group.Read.All")).json()
    assert members["value"] == []
    [entry] = audit_entries(env, "Remove member from group")
    assert [t["id"] for t in entry.target_resources] == [user.id, group.id]


@pytest.mark.parametrize("who", ["non-member", "unknown"])
def test_remove_non_member_is_404_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env, who: str
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk")
    member = user.id if who == "non-member" else "6f1967b7-15e8-4935-ac26-d50770ed07a7"
    headers = app_auth("Group.ReadWrite.All")
    before = snapshot(env)
    response = api.delete(f"/v1.0/groups/{group.id}/members/{member}/$ref", headers=headers)
    assert_graph_error(response, 404, "Request_ResourceNotFound")
    assert snapshot(env) == before


def test_remove_member_with_read_permission_is_403_and_store_unchanged(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk", members=(user.id,))
    headers = app_auth("Group.Read.All")
    before = snapshot(env)
    response = api.delete(f"/v1.0/groups/{group.id}/members/{user.id}/$ref", headers=headers)
    assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert snapshot(env) == before


def test_deleting_a_user_removes_their_memberships(
    api: TestClient, app_auth: TokenFactory, env: Env, tenant: Initialised
) -> None:
    user = make_user(env, "kim@contoso.example")
    group = make_group(env, "Helpdesk", members=(user.id, tenant.admin.id))
    assert api.delete(f"/v1.0/users/{user.id}", headers=app_auth("User.ReadWrite.All")).status_code == 204
    members = api.get(f"/v1.0/groups/{group.id}/members", headers=app_auth("Group.Read.All")).json()["value"]
    assert [m["id"] for m in members] == [tenant.admin.id]
