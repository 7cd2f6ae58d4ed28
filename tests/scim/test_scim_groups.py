"""SCIM Groups and their members, as Entra's provisioning changes them: one member at a time."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.factories import make_user
from tests.scim.conftest import GROUP, PATCH, SCIM


def _members(api: TestClient, auth: dict[str, str], group_id: str) -> list[str]:
    body = api.get(f"{SCIM}/Groups/{group_id}", headers=auth).json()
    return sorted(m["value"] for m in body.get("members", []))


def _patch(api: TestClient, auth: dict[str, str], group_id: str, *operations: dict[str, Any]) -> Any:
    return api.patch(
        f"{SCIM}/Groups/{group_id}", json={"schemas": [PATCH], "Operations": list(operations)}, headers=auth
    )


def test_members_are_added_replaced_and_removed_by_value_filter(
    api: TestClient, env: Env, scim_auth: dict[str, str]
) -> None:
    ada, bob, cy = (make_user(env, f"{n}@contoso.example").id for n in ("ada", "bob", "cy"))
    made = api.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "New hires",
            "externalId": "G-1",
            "members": [{"value": ada}],
        },
        headers=scim_auth,
    )
    assert made.status_code == 201, made.text
    group = made.json()
    assert group["members"] == [
        {"value": ada, "$ref": f"http://localhost:8000{SCIM}/Users/{ada}", "type": "User"}
    ]
    gid = group["id"]

    assert (
        _patch(api, scim_auth, gid, {"op": "add", "path": "members", "value": [{"value": bob}]}).status_code
        == 200
    )
    assert _members(api, scim_auth, gid) == sorted([ada, bob])
    removed = _patch(api, scim_auth, gid, {"op": "remove", "path": f'members[value eq "{ada}"]'})
    assert removed.status_code == 200, removed.text
    assert _members(api, scim_auth, gid) == [bob]
    # Entra's way: a remove carrying the value to remove.
    _patch(api, scim_auth, gid, {"op": "Remove", "path": "members", "value": [{"value": bob}]})
    assert _members(api, scim_auth, gid) == []
    _patch(
        api, scim_auth, gid, {"op": "replace", "path": "members", "value": [{"value": cy}, {"value": ada}]}
    )
    assert _members(api, scim_auth, gid) == sorted([ada, cy])
    renamed = _patch(api, scim_auth, gid, {"op": "replace", "value": {"displayName": "Joiners 2027"}})
    assert renamed.json()["displayName"] == "Joiners 2027"

    # The user's view shows the membership.
    user = api.get(f"{SCIM}/Users/{cy}", headers=scim_auth).json()
    assert user["groups"] == [
        {
            "value": gid,
            "$ref": f"http://localhost:8000{SCIM}/Groups/{gid}",
            "display": "Joiners 2027",
            "type": "direct",
        }
    ]
    found = api.get(f"{SCIM}/Groups", params={"filter": f'members.value eq "{cy}"'}, headers=scim_auth).json()
    assert [g["id"] for g in found["Resources"]] == [gid]
    by_external = api.get(
        f"{SCIM}/Groups", params={"filter": 'externalId eq "G-1"'}, headers=scim_auth
    ).json()
    assert by_external["totalResults"] == 1


def test_a_group_cannot_hold_a_group_or_a_stranger(
    api: TestClient, env: Env, scim_auth: dict[str, str]
) -> None:
    gid = api.post(f"{SCIM}/Groups", json={"schemas": [GROUP], "displayName": "A"}, headers=scim_auth).json()[
        "id"
    ]
    other = api.post(
        f"{SCIM}/Groups", json={"schemas": [GROUP], "displayName": "B"}, headers=scim_auth
    ).json()["id"]
    nested = _patch(
        api, scim_auth, gid, {"op": "add", "path": "members", "value": [{"value": other, "type": "Group"}]}
    )
    assert nested.status_code == 400 and nested.json()["scimType"] == "invalidValue"
    stranger = _patch(
        api,
        scim_auth,
        gid,
        {"op": "add", "path": "members", "value": [{"value": "00000000-0000-0000-0000-00000000000a"}]},
    )
    assert stranger.status_code == 400 and stranger.json()["scimType"] == "invalidValue"
    assert _members(api, scim_auth, gid) == []


def test_a_list_can_leave_members_out(api: TestClient, env: Env, scim_auth: dict[str, str]) -> None:
    ada = make_user(env, "ada@contoso.example").id
    api.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP], "displayName": "Everyone", "members": [{"value": ada}]},
        headers=scim_auth,
    )
    slim = api.get(f"{SCIM}/Groups", params={"excludedAttributes": "members"}, headers=scim_auth).json()
    assert slim["Resources"] and all("members" not in g for g in slim["Resources"])
    only = api.get(f"{SCIM}/Groups", params={"attributes": "displayName"}, headers=scim_auth).json()
    assert set(only["Resources"][0]) == {"schemas", "id", "displayName"}


def test_deleting_a_group_keeps_its_members(api: TestClient, env: Env, scim_auth: dict[str, str]) -> None:
    ada = make_user(env, "ada@contoso.example").id
    gid = api.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP], "displayName": "Temp", "members": [{"value": ada}]},
        headers=scim_auth,
    ).json()["id"]
    assert api.delete(f"{SCIM}/Groups/{gid}", headers=scim_auth).status_code == 204
    assert api.get(f"{SCIM}/Groups/{gid}", headers=scim_auth).status_code == 404
    assert api.get(f"{SCIM}/Users/{ada}", headers=scim_auth).status_code == 200
