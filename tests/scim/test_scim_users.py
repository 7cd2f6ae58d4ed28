"""SCIM Users: what scim2-tester does not check, as an HR system's client would send it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.directory import queries as directory_store
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import TapService
from passbridge.services.context import Env, operator
from passbridge.store.models import AuditEntry, TemporaryAccessPass, User
from tests.api.conftest import TokenFactory
from tests.api.passwordless_helpers import open_session, session_state
from tests.factories import make_user
from tests.scim.conftest import ENTERPRISE, OURS, PATCH, SCIM, USER

HEADERS = {"Content-Type": "application/scim+json"}


def _new(api: TestClient, auth: dict[str, str], user_name: str, **extra: Any) -> dict[str, Any]:
    body = {"schemas": [USER], "userName": user_name, **extra}
    response = api.post(f"{SCIM}/Users", json=body, headers=auth)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.headers["location"] == response.json()["meta"]["location"]
    return dict(response.json())


def _error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return dict(body)


def test_an_hr_user_with_every_attribute_is_stored_under_graphs_names(
    api: TestClient, env: Env, scim_auth: dict[str, str]
) -> None:
    boss = _new(api, scim_auth, "grace@contoso.example", displayName="Grace Hopper")
    made = _new(
        api,
        scim_auth,
        "ada@contoso.example",
        externalId="WD-1001",
        displayName="Ada Lovelace",
        title="Analyst",
        userType="Employee",
        active=True,
        emails=[
            {"value": "ada@contoso.example", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
        phoneNumbers=[{"value": "+44 20 7946 0000", "type": "mobile"}],
        name={"givenName": "Ada", "familyName": "Lovelace"},  # not stored: dropped, never refused
        schemas=[USER, ENTERPRISE, OURS],
        **{
            ENTERPRISE: {
                "employeeNumber": "E-1001",
                "organization": "Contoso",
                "department": "Finance",
                "manager": {"value": boss["id"]},
            },
            OURS: {"employeeHireDate": "2027-01-04T08:00:00Z"},
        },
    )
    with env.db.transaction("read") as tx:
        stored = tx.session.get_one(User, made["id"])
        assert (stored.user_principal_name, stored.display_name) == ("ada@contoso.example", "Ada Lovelace")
        assert (stored.external_id, stored.job_title, stored.employee_type) == (
            "WD-1001",
            "Analyst",
            "Employee",
        )
        assert (stored.mail, stored.other_mails) == ("ada@contoso.example", ["ada@home.example"])
        assert (stored.employee_id, stored.company_name, stored.department) == (
            "E-1001",
            "Contoso",
            "Finance",
        )
        assert stored.mobile_phone == "+44 20 7946 0000"
        assert stored.manager_id == boss["id"]
        assert stored.employee_hire_date is not None and stored.employee_hire_date.isoformat().startswith(
            "2027-01-04T08:00:00"
        )
    read = api.get(f"{SCIM}/Users/{made['id']}", headers=scim_auth).json()
    assert read == made
    assert read[ENTERPRISE]["manager"] == {"value": boss["id"], "$ref": f"{boss['meta']['location']}"}
    assert read[OURS] == {"employeeHireDate": "2027-01-04T08:00:00Z"}
    assert read["emails"] == [
        {"value": "ada@contoso.example", "type": "work"},
        {"value": "ada@home.example", "type": "other"},
    ]
    assert "name" not in read


def test_a_user_name_without_a_domain_is_a_sign_in_name(api: TestClient, scim_auth: dict[str, str]) -> None:
    made = _new(api, scim_auth, "jdoe")
    assert (made["userName"], made["displayName"], made["active"]) == ("jdoe", "jdoe", True)
    bad = api.post(f"{SCIM}/Users", json={"schemas": [USER], "userName": "j doe"}, headers=scim_auth)
    assert "not a valid sign-in name" in _error(bad, 400, "invalidValue")["detail"]


def test_a_second_user_with_the_same_name_is_a_uniqueness_conflict(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    _new(api, scim_auth, "ada@contoso.example")
    again = api.post(
        f"{SCIM}/Users", json={"schemas": [USER], "userName": "ADA@contoso.example"}, headers=scim_auth
    )
    _error(again, 409, "uniqueness")


def test_filters_reach_the_rows_by_user_name_external_id_email_and_display_name(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    ada = _new(api, scim_auth, "ada@contoso.example", displayName="Ada Lovelace", externalId="WD-1")
    bob = _new(
        api,
        scim_auth,
        "bob@contoso.example",
        displayName="Bob Byron",
        externalId="WD-2",
        emails=[
            {"value": "bob@contoso.example", "type": "work"},
            {"value": "b@home.example", "type": "other"},
        ],
    )

    def found(text: str) -> list[str]:
        response = api.get(f"{SCIM}/Users", params={"filter": text}, headers=scim_auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["totalResults"] == len(body["Resources"])
        return sorted(r["userName"] for r in body["Resources"])

    assert found('userName eq "ADA@contoso.example"') == ["ada@contoso.example"]
    assert found('externalId eq "WD-2"') == ["bob@contoso.example"]
    assert found('externalId eq "wd-2"') == []  # externalId is case-exact
    assert found('emails.value eq "b@home.example"') == ["bob@contoso.example"]
    assert found('emails[type eq "work" and value eq "bob@contoso.example"]') == ["bob@contoso.example"]
    assert found('emails[type eq "work"].value eq "b@home.example"') == []
    assert found('displayName sw "ada"') == ["ada@contoso.example"]
    assert found('displayName co "by"') == ["bob@contoso.example"]
    assert found('externalId pr and displayName co "l"') == ["ada@contoso.example"]
    assert found('userName eq "ada@contoso.example" or userName eq "bob@contoso.example"') == [
        "ada@contoso.example",
        "bob@contoso.example",
    ]
    assert found(f'id eq "{bob["id"]}"') == ["bob@contoso.example"]
    assert found("not (externalId pr)") == ["admin@contoso.example"]
    assert ada["id"] != bob["id"]
    for bad in ("userName eq", 'nickName eq "x"', 'userName xx "a"'):
        _error(api.get(f"{SCIM}/Users", params={"filter": bad}, headers=scim_auth), 400, "invalidFilter")


def test_lists_page_by_start_index_and_count_and_sort(api: TestClient, scim_auth: dict[str, str]) -> None:
    for name in ("carol", "alice", "bob"):
        _new(api, scim_auth, f"{name}@contoso.example", displayName=name.title())
    query = {"filter": 'userName ne "admin@contoso.example"', "sortBy": "displayName"}
    first = api.get(f"{SCIM}/Users", params={**query, "count": 2}, headers=scim_auth).json()
    assert (first["totalResults"], first["startIndex"], first["itemsPerPage"]) == (3, 1, 2)
    assert [r["displayName"] for r in first["Resources"]] == ["Alice", "Bob"]
    rest = api.get(f"{SCIM}/Users", params={**query, "count": 2, "startIndex": 3}, headers=scim_auth).json()
    assert [r["displayName"] for r in rest["Resources"]] == ["Carol"]
    down = api.get(f"{SCIM}/Users", params={**query, "sortOrder": "descending"}, headers=scim_auth).json()
    assert [r["displayName"] for r in down["Resources"]] == ["Carol", "Bob", "Alice"]
    none = api.get(f"{SCIM}/Users", params={**query, "count": 0}, headers=scim_auth).json()
    assert (none["totalResults"], none["Resources"]) == (3, [])
    _error(api.get(f"{SCIM}/Users", params={"sortBy": "password"}, headers=scim_auth), 400, "invalidValue")
    _error(api.get(f"{SCIM}/Users", params={"count": "many"}, headers=scim_auth), 400, "invalidValue")


def test_put_replaces_the_whole_user(api: TestClient, scim_auth: dict[str, str]) -> None:
    made = _new(api, scim_auth, "ada@contoso.example", displayName="Ada", title="Analyst", externalId="WD-1")
    body = {
        "schemas": [USER],
        "userName": "ada@contoso.example",
        "displayName": "Ada Lovelace",
        "active": True,
    }
    replaced = api.put(f"{SCIM}/Users/{made['id']}", json=body, headers=scim_auth)
    assert replaced.status_code == 200, replaced.text
    assert "title" not in replaced.json() and "externalId" not in replaced.json()
    assert replaced.json()["displayName"] == "Ada Lovelace"


def test_entra_style_patches_apply(api: TestClient, env: Env, scim_auth: dict[str, str]) -> None:
    boss = _new(api, scim_auth, "grace@contoso.example")
    made = _new(
        api, scim_auth, "ada@contoso.example", emails=[{"value": "ada@contoso.example", "type": "work"}]
    )
    operations = [
        {"op": "Replace", "path": "displayName", "value": "Ada Lovelace"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.lovelace@contoso.example"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        {"op": "Add", "path": f"{OURS}:employeeHireDate", "value": "2027-02-01T00:00:00Z"},
    ]
    patched = api.patch(
        f"{SCIM}/Users/{made['id']}", json={"schemas": [PATCH], "Operations": operations}, headers=scim_auth
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["displayName"] == "Ada Lovelace"
    assert body["emails"] == [{"value": "ada.lovelace@contoso.example", "type": "work"}]
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert body[ENTERPRISE]["department"] == "Finance"
    assert body[OURS]["employeeHireDate"] == "2027-02-01T00:00:00Z"
    removed = api.patch(
        f"{SCIM}/Users/{made['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}]},
        headers=scim_auth,
    )
    assert "manager" not in removed.json()[ENTERPRISE]
    with env.db.transaction("read") as tx:
        assert tx.session.get_one(User, made["id"]).manager_id is None
    # One audit entry per change, in Graph's names, by the token.
    with env.db.transaction("read") as tx:
        wanted = AuditEntry.activity_display_name.in_(("Set manager", "Remove manager"))
        manager_entries = tx.session.query(AuditEntry).filter(wanted).all()
    assert len(manager_entries) == 2
    assert all(e.initiated_by["app"]["displayName"] == "Provisioning token Workday" for e in manager_entries)


def test_a_patch_that_makes_a_cycle_of_managers_is_refused(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    boss = _new(api, scim_auth, "grace@contoso.example")
    ada = _new(
        api,
        scim_auth,
        "ada@contoso.example",
        schemas=[USER, ENTERPRISE],
        **{ENTERPRISE: {"manager": {"value": boss["id"]}}},
    )
    cycle = api.patch(
        f"{SCIM}/Users/{boss['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": ada["id"]}}],
        },
        headers=scim_auth,
    )
    _error(cycle, 400, "invalidValue")
    missing = api.patch(
        f"{SCIM}/Users/{boss['id']}",
        json={
            "schemas": [PATCH],
            "Operations": [
                {
                    "op": "add",
                    "path": f"{ENTERPRISE}:manager",
                    "value": "00000000-0000-0000-0000-000000000001",
                }
            ],
        },
        headers=scim_auth,
    )
    _error(missing, 400, "invalidValue")


def test_if_match_refuses_a_stale_etag_and_if_none_match_answers_304(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    made = _new(api, scim_auth, "ada@contoso.example", displayName="Ada")
    url = f"{SCIM}/Users/{made['id']}"
    first = api.get(url, headers=scim_auth)
    etag = first.headers["etag"]
    assert etag == made["meta"]["version"] and etag.startswith('W/"')
    assert api.get(url, headers={**scim_auth, "If-None-Match": etag}).status_code == 304
    change = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Ada L"}]}
    ok = api.patch(url, json=change, headers={**scim_auth, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag
    # A second client still holding the first ETag loses, and changes nothing.
    stale = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Ada X"}]}
    _error(api.patch(url, json=stale, headers={**scim_auth, "If-Match": etag}), 412)
    _error(api.delete(url, headers={**scim_auth, "If-Match": etag}), 412)
    assert api.get(url, headers=scim_auth).json()["displayName"] == "Ada L"
    assert (
        api.put(
            url,
            json={"schemas": [USER], "userName": "ada@contoso.example", "displayName": "Ada P"},
            headers={**scim_auth, "If-Match": ok.headers["etag"]},
        ).status_code
        == 200
    )


def test_active_false_ends_sessions_refresh_tokens_and_the_pass_at_once(
    api: TestClient, env: Env, clock: ManualClock, scim_auth: dict[str, str]
) -> None:
    ada = make_user(env, "ada@contoso.example", display_name="Ada Lovelace")
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).issue(ada.id, PassRequest())
    ids = open_session(env, ada)
    clock.advance(seconds=5)
    off = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    response = api.patch(f"{SCIM}/Users/{ada.id}", json=off, headers=scim_auth)
    assert response.status_code == 200 and response.json()["active"] is False
    ended, revoked = session_state(env, *ids)
    assert ended is not None and revoked is not None
    with env.db.transaction("read") as tx:
        assert tx.session.query(TemporaryAccessPass).filter_by(user_id=ada.id).count() == 0
        assert tx.session.get_one(User, ada.id).account_enabled is False


def test_deleting_a_user_removes_them_and_their_pass(
    api: TestClient, env: Env, scim_auth: dict[str, str]
) -> None:
    ada = make_user(env, "ada@contoso.example")
    with env.db.transaction() as tx:
        TapService(tx, env, operator()).issue(ada.id, PassRequest())
    assert api.delete(f"{SCIM}/Users/{ada.id}", headers=scim_auth).status_code == 204
    _error(api.get(f"{SCIM}/Users/{ada.id}", headers=scim_auth), 404)
    _error(api.delete(f"{SCIM}/Users/{ada.id}", headers=scim_auth), 404)
    with env.db.transaction("read") as tx:
        assert directory_store.user_by_id(tx, ada.id) is None
        assert tx.session.query(TemporaryAccessPass).filter_by(user_id=ada.id).count() == 0


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (b"{not json", "invalidSyntax"),
        (b"[1, 2]", "invalidSyntax"),
        (b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}', "invalidValue"),
        (b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": 5}', "invalidValue"),
        (
            b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a\\u0000b"}',
            "invalidValue",
        ),
    ],
)
def test_bad_bodies_are_scim_errors_never_500s(
    api: TestClient, scim_auth: dict[str, str], body: bytes, scim_type: str
) -> None:
    response = api.post(f"{SCIM}/Users", content=body, headers={**scim_auth, **HEADERS})
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] in (scim_type, "invalidValue", "invalidSyntax")


def test_a_patch_without_its_schema_or_with_an_unknown_op_is_refused(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    made = _new(api, scim_auth, "ada@contoso.example")
    url = f"{SCIM}/Users/{made['id']}"
    _error(api.patch(url, json={"Operations": []}, headers=scim_auth), 400, "invalidSyntax")
    odd = {"schemas": [PATCH], "Operations": [{"op": "merge", "path": "displayName", "value": "x"}]}
    assert api.patch(url, json=odd, headers=scim_auth).status_code == 400


def test_an_application_token_needs_user_read_write_all_to_provision(
    api: TestClient, app_auth: TokenFactory
) -> None:
    reader = app_auth("User.Read.All")
    assert api.get(f"{SCIM}/Users", headers=reader).status_code == 200
    body = {"schemas": [USER], "userName": "ada@contoso.example"}
    _error(api.post(f"{SCIM}/Users", json=body, headers=reader), 403)
    writer = app_auth("User.ReadWrite.All", "Group.ReadWrite.All")
    assert api.post(f"{SCIM}/Users", json=body, headers=writer).status_code == 201


def test_changes_through_scim_are_audited_as_the_token(
    api: TestClient, env: Env, scim_auth: dict[str, str]
) -> None:
    made = _new(api, scim_auth, "ada@contoso.example", title="Analyst")
    with env.db.transaction("read") as tx:
        added = tx.session.query(AuditEntry).filter(AuditEntry.activity_display_name == "Add user").all()
    [entry] = [e for e in added if e.target_resources[0]["id"] == made["id"]]
    assert entry.initiated_by["app"]["displayName"] == "Provisioning token Workday"


def test_scim_and_graph_are_two_views_of_one_user(
    api: TestClient, scim_auth: dict[str, str], app_auth: TokenFactory
) -> None:
    boss = _new(api, scim_auth, "grace@contoso.example", displayName="Grace Hopper")
    made = _new(
        api,
        scim_auth,
        "ada@contoso.example",
        displayName="Ada Lovelace",
        title="Analyst",
        userType="Employee",
        emails=[
            {"value": "ada@contoso.example", "type": "work"},
            {"value": "ada@home.example", "type": "home"},
        ],
        phoneNumbers=[{"value": "+44 20 7946 0000", "type": "mobile"}],
        schemas=[USER, ENTERPRISE, OURS],
        **{
            ENTERPRISE: {"employeeNumber": "1001", "department": "Finance", "manager": {"value": boss["id"]}},
            OURS: {"employeeHireDate": "2027-01-04T08:00:00Z"},
        },
    )
    graph = app_auth("User.ReadWrite.All")
    fields = "employeeId,employeeType,employeeHireDate,department,jobTitle,mobilePhone,otherMails,mail"
    seen = api.get(f"/v1.0/users/{made['id']}", params={"$select": fields}, headers=graph)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert (body["employeeId"], body["employeeType"], body["department"]) == ("1001", "Employee", "Finance")
    assert (body["jobTitle"], body["mobilePhone"], body["mail"]) == (
        "Analyst",
        "+44 20 7946 0000",
        "ada@contoso.example",
    )
    assert body["otherMails"] == ["ada@home.example"]
    assert body["employeeHireDate"].startswith("2027-01-04T08:00:00")
    manager = api.get(f"/v1.0/users/{made['id']}/manager", headers=graph)
    assert manager.status_code == 200 and manager.json()["id"] == boss["id"]
    # A change through Graph is what SCIM reads next.
    assert (
        api.patch(f"/v1.0/users/{made['id']}", json={"department": "Treasury"}, headers=graph).status_code
        == 204
    )
    assert (
        api.get(f"{SCIM}/Users/{made['id']}", headers=scim_auth).json()[ENTERPRISE]["department"]
        == "Treasury"
    )
