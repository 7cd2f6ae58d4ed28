"""Graph's HR properties on users, their filters, $orderby and the manager, as HR scripts use them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.api.conftest import TokenFactory
from tests.factories import make_user

HIRE = {
    "employeeId": "E-1001",
    "employeeType": "Employee",
    "employeeHireDate": "2027-01-04T00:00:00Z",
    "department": "Finance",
    "jobTitle": "Accountant",
    "companyName": "Contoso",
    "officeLocation": "Building 2",
    "usageLocation": "GB",
    "mobilePhone": "+44 7700 900123",
    "otherMails": ["ada@home.example"],
}
SELECT_ONLY = ("employeeId", "employeeType", "employeeHireDate", "department", "companyName", "usageLocation")


@pytest.fixture
def admin(app_auth: TokenFactory) -> dict[str, str]:
    return app_auth("User.ReadWrite.All")


def _create(api: TestClient, headers: dict[str, str], upn: str, **props: Any) -> dict[str, Any]:
    body = {"accountEnabled": True, "displayName": upn.split("@")[0].title(), "userPrincipalName": upn}
    response = api.post("/v1.0/users", json={**body, **props}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_hr_properties_set_on_create_come_back_with_select(api: TestClient, admin: dict[str, str]) -> None:
    created = _create(api, admin, "ada@contoso.example", **HIRE)
    select = ",".join(HIRE)
    got = api.get(f"/v1.0/users/{created['id']}?$select={select}", headers=admin).json()
    assert {k: got[k] for k in HIRE} == HIRE
    assert got["@odata.context"].endswith(f"$metadata#users({select})/$entity")


def test_without_select_graphs_default_set_only(api: TestClient, admin: dict[str, str]) -> None:
    created = _create(api, admin, "ada@contoso.example", **HIRE)
    assert created["jobTitle"] == "Accountant" and created["officeLocation"] == "Building 2"
    got = api.get(f"/v1.0/users/{created['id']}", headers=admin).json()
    assert got["mobilePhone"] == "+44 7700 900123"
    assert not any(name in got for name in (*SELECT_ONLY, "otherMails")), got
    listed = api.get("/v1.0/users", headers=admin).json()["value"]
    assert all("department" not in user for user in listed)


def test_patch_sets_and_null_clears(api: TestClient, admin: dict[str, str]) -> None:
    created = _create(api, admin, "ada@contoso.example", **HIRE)
    patch = {"department": "Treasury", "jobTitle": None, "employeeHireDate": None, "otherMails": None}
    response = api.patch(f"/v1.0/users/{created['id']}", json=patch, headers=admin)
    assert response.status_code == 204, response.text
    got = api.get(
        f"/v1.0/users/{created['id']}?$select=department,jobTitle,employeeHireDate,otherMails,companyName",
        headers=admin,
    ).json()
    assert (got["department"], got["jobTitle"], got["employeeHireDate"]) == ("Treasury", None, None)
    assert got["otherMails"] == [] and got["companyName"] == "Contoso"


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"employeeId": "x" * 65}, "employeeId must be at most 64 characters"),
        ({"department": "x" * 65}, "department must be at most 64 characters"),
        ({"usageLocation": "XX"}, "ISO 3166-1"),
        ({"employeeHireDate": "2027-01-04"}, "Edm.DateTimeOffset"),
        ({"employeeHireDate": "next monday"}, "Edm.DateTimeOffset"),
        ({"otherMails": ["not an address"]}, "not an email address"),
        ({"otherMails": "ada@home.example"}, "otherMails"),
        ({"jobTitle": 7}, "jobTitle"),
    ],
)
def test_bad_hr_values_are_graph_400s_and_create_nothing(
    api: TestClient, admin: dict[str, str], props: dict[str, Any], words: str
) -> None:
    body = {"accountEnabled": True, "displayName": "Bad", "userPrincipalName": "bad@contoso.example"}
    response = api.post("/v1.0/users", json={**body, **props}, headers=admin)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]
    assert api.get("/v1.0/users/bad@contoso.example", headers=admin).status_code == 404


def _upns(api: TestClient, headers: dict[str, str], query: str) -> list[str]:
    response = api.get(f"/v1.0/users?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [u["userPrincipalName"] for u in response.json()["value"]]


def test_filters_on_hr_properties(api: TestClient, admin: dict[str, str]) -> None:
    _create(api, admin, "ada@contoso.example", department="Finance", employeeHireDate="2027-01-04T00:00:00Z")
    _create(
        api,
        admin,
        "bob@contoso.example",
        department="Finance Ops",
        employeeHireDate="2027-02-01T09:00:00+01:00",
    )
    _create(api, admin, "cy@contoso.example", department="Sales", employeeId="E-7", usageLocation="fr")
    assert _upns(api, admin, "$filter=department eq 'finance'") == ["ada@contoso.example"]
    assert _upns(api, admin, "$filter=startswith(department,'Fin')") == [
        "ada@contoso.example",
        "bob@contoso.example",
    ]
    assert _upns(api, admin, "$filter=employeeId eq 'e-7' and usageLocation eq 'FR'") == [
        "cy@contoso.example"
    ]
    assert _upns(api, admin, "$filter=employeeHireDate ge 2027-01-05T00:00:00Z") == ["bob@contoso.example"]
    assert _upns(api, admin, "$filter=employeeHireDate le 2027-02-01T08:00:00Z") == [
        "ada@contoso.example",
        "bob@contoso.example",
    ]
    assert _upns(api, admin, "$filter=employeeHireDate eq 2027-01-04T00:00:00Z") == ["ada@contoso.example"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("$filter=employeeHireDate ge '2027-01-04'", "BadRequest"),
        ("$filter=employeeHireDate ge 2027-01-04", "BadRequest"),
        ("$filter=department ge 'F'", "Request_UnsupportedQuery"),
        ("$filter=startswith(employeeHireDate,'2027')", "Request_UnsupportedQuery"),
        ("$orderby=department", "Request_UnsupportedQuery"),
        ("$orderby=displayName sideways", "BadRequest"),
        ("$orderby=displayName,userPrincipalName", "BadRequest"),
    ],
)
def test_unsupported_filters_and_orders_are_graph_400s(
    api: TestClient, admin: dict[str, str], query: str, code: str
) -> None:
    response = api.get(f"/v1.0/users?{query}", headers=admin)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def _walk(api: TestClient, headers: dict[str, str], query: str) -> list[str]:
    names: list[str] = []
    url: str | None = f"/v1.0/users?{query}&$top=2"
    while url is not None:
        body = api.get(url.replace("http://localhost:8000", ""), headers=headers).json()
        names += [u["displayName"] for u in body["value"]]
        url = body.get("@odata.nextLink")
    return names


def test_orderby_display_name_and_upn_page_by_key_both_ways(api: TestClient, admin: dict[str, str]) -> None:
    for upn, name in (
        ("z@contoso.example", "anna"),
        ("y@contoso.example", "Bert"),
        ("x@contoso.example", "carl"),
    ):
        api.post(
            "/v1.0/users",
            json={"accountEnabled": True, "displayName": name, "userPrincipalName": upn},
            headers=admin,
        )
    _create(api, admin, "w@contoso.example")  # displayName "W"
    by_name = _walk(api, admin, "$orderby=displayName")
    assert by_name == sorted(by_name, key=str.casefold) and len(by_name) == 5  # admin too
    assert _walk(api, admin, "$orderby=displayName desc") == by_name[::-1]
    by_upn = _walk(api, admin, "$orderby=userPrincipalName desc")
    assert by_upn[:4] == ["anna", "Bert", "carl", "W"]
    assert _walk(api, admin, "$orderby=userPrincipalName asc") == by_upn[::-1]


def test_a_skiptoken_belongs_to_its_order(api: TestClient, admin: dict[str, str]) -> None:
    for n in range(3):
        _create(api, admin, f"u{n}@contoso.example")
    link = api.get("/v1.0/users?$orderby=displayName&$top=1", headers=admin).json()["@odata.nextLink"]
    (token,) = parse_qs(urlsplit(link).query)["$skiptoken"]
    response = api.get("/v1.0/users", params={"$top": "1", "$skiptoken": token}, headers=admin)
    assert response.status_code == 400 and "skiptoken" in response.json()["error"]["message"]


# --- the manager -------------------------------------------------------------------------------


def _put_manager(api: TestClient, headers: dict[str, str], user: str, ref: Any) -> Any:
    return api.put(f"/v1.0/users/{user}/manager/$ref", json=ref, headers=headers)


def test_manager_set_read_listed_and_removed(api: TestClient, env: Env, admin: dict[str, str]) -> None:
    boss, ada = make_user(env, "boss@contoso.example"), make_user(env, "ada@contoso.example")
    graph_ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{boss.id}"}
    assert _put_manager(api, admin, ada.id, graph_ref).status_code == 204
    got = api.get(f"/v1.0/users/{ada.id}/manager", headers=admin).json()
    assert got["id"] == boss.id and got["@odata.type"] == "#microsoft.graph.user"
    assert got["@odata.context"].endswith("$metadata#directoryObjects/$entity")
    reports = api.get(f"/v1.0/users/{boss.id}/directReports", headers=admin).json()
    assert [r["id"] for r in reports["value"]] == [ada.id]
    assert api.delete(f"/v1.0/users/{ada.id}/manager/$ref", headers=admin).status_code == 204
    missing = api.get(f"/v1.0/users/{ada.id}/manager", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    again = api.delete(f"/v1.0/users/{ada.id}/manager/$ref", headers=admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "Request_ResourceNotFound"


def test_manager_reference_in_our_own_base_url(api: TestClient, env: Env, admin: dict[str, str]) -> None:
    boss, ada = make_user(env), make_user(env)
    own = {"@odata.id": f"http://localhost:8000/v1.0/directoryObjects/{boss.id}"}
    assert _put_manager(api, admin, ada.id, own).status_code == 204
    assert api.get(f"/v1.0/users/{ada.id}/manager", headers=admin).json()["id"] == boss.id


@pytest.mark.parametrize(
    ("ref", "status", "code"),
    [
        ({}, 400, "badRequest"),
        ({"@odata.id": "https://graph.microsoft.com/v1.0/groups"}, 400, "badRequest"),
        (
            {"@odata.id": "https://graph.microsoft.com/v1.0/users/nobody@contoso.example"},
            404,
            "Request_ResourceNotFound",
        ),
        ({"@odata.id": 7}, 400, "badRequest"),
        ({"@odata.id": "https://graph.microsoft.com/v1.0/users/x", "extra": 1}, 400, "badRequest"),
    ],
)
def test_bad_manager_references_are_graph_errors(
    api: TestClient, env: Env, admin: dict[str, str], ref: Any, status: int, code: str
) -> None:
    ada = make_user(env)
    response = _put_manager(api, admin, ada.id, ref)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_self_and_cyclic_managers_are_refused(api: TestClient, env: Env, admin: dict[str, str]) -> None:
    top, low = make_user(env), make_user(env)
    assert _put_manager(api, admin, low.id, {"@odata.id": f"users/{top.id}"}).status_code == 204
    own = _put_manager(api, admin, top.id, {"@odata.id": f"users/{top.id}"})
    assert own.status_code == 400 and "own manager" in own.json()["error"]["message"]
    cycle = _put_manager(api, admin, top.id, {"@odata.id": f"users/{low.id}"})
    assert cycle.status_code == 400 and "cycle" in cycle.json()["error"]["message"]


def test_reading_needs_read_and_setting_needs_write(
    api: TestClient, env: Env, app_auth: TokenFactory
) -> None:
    boss, ada = make_user(env), make_user(env)
    reader = app_auth("User.Read.All")
    denied = _put_manager(api, reader, ada.id, {"@odata.id": f"users/{boss.id}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert api.get(f"/v1.0/users/{ada.id}/manager", headers=reader).status_code == 404
    nobody = app_auth("Group.Read.All")
    assert api.get(f"/v1.0/users/{ada.id}/directReports", headers=nobody).status_code == 403
