"""OData on directory collections: $select, $top with working nextLinks, $filter, $count."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.directory import queries as store
from passbridge.directory.queries import Condition
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_group, make_user

BASE = "http://localhost:8000"
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture
def people(env: Env, tenant: Initialised) -> dict[str, str]:
    """Five users besides the admin, chosen to tell the filters apart; name -> id."""
    rows = [
        ("kim.akers@contoso.example", "Kim Akers", None),
        ("kimberly@contoso.example", "Kimberly O'Neil", "kimberly@fabrikam.example"),
        ("lee.gu@contoso.example", "Lee Gu", "lee@fabrikam.example"),
        ("pct@contoso.example", "50% Off", None),
        ("under_score@contoso.example", "500 Club", None),
    ]
    ids = {upn: make_user(env, upn, display_name=name).id for upn, name, _ in rows}
    with env.db.transaction() as tx:
        for upn, _, mail in rows:
            user = store.user_by_upn(tx, upn)
            assert user is not None
            user.mail = mail
    return ids


def upns(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [u["userPrincipalName"] for u in response.json()["value"]]


# --- $select -------------------------------------------------------------------------------------


def test_select_projects_collection_and_names_it_in_context(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get("/v1.0/users?$select=userPrincipalName,DISPLAYNAME", headers=app_auth("User.Read.All"))
    assert response.json() == {
        "@odata.context": f"{BASE}/v1.0/$metadata#users(userPrincipalName,displayName)",
        "value": [{"userPrincipalName": "admin@contoso.example", "displayName": "Administrator"}],
    }


def test_select_on_members_keeps_odata_type(
    api: TestClient, app_auth: TokenFactory, env: Env, tenant: Initialised
) -> None:
    group = make_group(env, "Admins", members=(tenant.admin.id,))
    response = api.get(f"/beta/groups/{group.id}/members?$select=id", headers=app_auth("Group.Read.All"))
    assert response.json() == {
        "@odata.context": f"{BASE}/beta/$metadata#directoryObjects(id)",
        "value": [{"@odata.type": "#microsoft.graph.user", "id": tenant.admin.id}],
    }


@pytest.mark.parametrize(
    ("path", "name", "type_name"),
    [
        ("/v1.0/users?$select=displayName,surname", "surname", "microsoft.graph.user"),
        (
            "/v1.0/users/admin@contoso.example?$select=passwordProfile",
            "passwordProfile",
            "microsoft.graph.user",
        ),
        ("/v1.0/groups?$select=visibility", "visibility", "microsoft.graph.group"),
        ("/v1.0/users?$select=", "", "microsoft.graph.user"),
    ],
)
def test_select_of_unknown_property_is_400(
    api: TestClient, app_auth: TokenFactory, path: str, name: str, type_name: str
) -> None:
    response = api.get(path, headers=app_auth("User.Read.All", "Group.Read.All"))
    error = assert_graph_error(response, 400, "BadRequest")
    assert error["message"] == (
        "Parsing OData Select and Expand failed: "
        f"Could not find a property named '{name}' on type '{type_name}'."
    )


# --- $top and @odata.nextLink --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_top_pages_and_following_next_links_visits_every_user_once(
    api: TestClient, app_auth: TokenFactory, people: dict[str, str], version: str
) -> None:
    headers = app_auth("User.Read.All")
    url: str | None = f"/{version}/users?$top=2&$select=userPrincipalName"
    seen: list[str] = []
    pages = 0
    while url is not None:
        body = api.get(url, headers=headers).json()
        assert len(body["value"]) <= 2 and set(body["value"][0]) == {"userPrincipalName"}
        seen += [u["userPrincipalName"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        if url is not None:
            assert url.startswith(f"{BASE}/{version}/users?")
        pages += 1
    assert pages == 3
    assert seen == sorted(["admin@contoso.example", *people], key=str.casefold)


def test_next_link_keeps_the_filter(api: TestClient, app_auth: TokenFactory, people: dict[str, str]) -> None:
    headers = app_auth("User.Read.All")
    first = api.get("/v1.0/users?$filter=startswith(displayName,'kim')&$top=1", headers=headers).json()
    second = api.get(first["@odata.nextLink"], headers=headers).json()
    assert [u["userPrincipalName"] for u in first["value"] + second["value"]] == [
        "kim.akers@contoso.example",
        "kimberly@contoso.example",
    ]
    assert "@odata.nextLink" not in second


def test_top_pages_group_members(
    api: TestClient, app_auth: TokenFactory, env: Env, people: dict[str, str]
) -> None:
    group = make_group(env, "All", members=tuple(people.values()))
    headers = app_auth("Group.Read.All")
    first = api.get(f"/v1.0/groups/{group.id}/members?$top=3", headers=headers).json()
    second = api.get(first["@odata.nextLink"], headers=headers).json()
    assert len(first["value"]) == 3 and len(second["value"]) == 2
    assert {m["id"] for m in first["value"] + second["value"]} == set(people.values())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("$top=0", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."),
        ("$top=1000", "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."),
        ("$top=two", "Invalid page size specified: 'two'. Must be between 1 and 999 inclusive."),
        ("$skiptoken=%%%", "The $skiptoken is invalid."),
        ("$skiptoken=bzotNQ==", "The $skiptoken is invalid."),  # "o:-5"
    ],
)
def test_bad_paging_options_are_400(
    api: TestClient, app_auth: TokenFactory, query: str, message: str
) -> None:
    error = assert_graph_error(
        api.get(f"/v1.0/users?{query}", headers=app_auth("User.Read.All")), 400, "badRequest"
    )
    assert error["message"] == message


# --- $filter -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("userPrincipalName eq 'KIM.AKERS@contoso.EXAMPLE'", ["kim.akers@contoso.example"]),
        ("startswith(userPrincipalName,'KIM')", ["kim.akers@contoso.example", "kimberly@contoso.example"]),
        ("startsWith(displayName, 'kim a')", ["kim.akers@contoso.example"]),
        ("displayName eq 'kimberly o''neil'", ["kimberly@contoso.example"]),
        ("mail eq 'LEE@fabrikam.example'", ["lee.gu@contoso.example"]),
        ("startswith(mail,'kim')", ["kimberly@contoso.example"]),
        ("startswith(displayName,'kim') and mail eq null", ["kim.akers@contoso.example"]),
        ("(startswith(displayName,'kim')) and (startswith(mail,'kim'))", ["kimberly@contoso.example"]),
        ("startswith(displayName,'50%')", ["pct@contoso.example"]),
        ("startswith(userPrincipalName,'under_')", ["under_score@contoso.example"]),
        ("startswith(userPrincipalName,'under%')", []),
        ("displayName eq 'nobody'", []),
        ("accountEnabled eq false", []),
    ],
)
def test_filter_matches_case_insensitively_in_sql(
    api: TestClient, app_auth: TokenFactory, people: dict[str, str], expression: str, expected: list[str]
) -> None:
    response = api.get("/v1.0/users", params={"$filter": expression}, headers=app_auth("User.Read.All"))
    assert upns(response) == expected


def test_filter_by_id_and_by_account_enabled(
    api: TestClient, app_auth: TokenFactory, env: Env, people: dict[str, str]
) -> None:
    headers = app_auth("User.ReadWrite.All")
    lee = people["lee.gu@contoso.example"]
    assert upns(api.get("/v1.0/users", params={"$filter": f"id eq '{lee.upper()}'"}, headers=headers)) == [
        "lee.gu@contoso.example"
    ]
    assert api.patch(f"/v1.0/users/{lee}", json={"accountEnabled": False}, headers=headers).status_code == 204
    assert upns(api.get("/v1.0/users", params={"$filter": "accountEnabled eq false"}, headers=headers)) == [
        "lee.gu@contoso.example"
    ]


def test_filter_applies_to_groups_and_members(
    api: TestClient, app_auth: TokenFactory, env: Env, people: dict[str, str]
) -> None:
    make_group(env, "Helpdesk")
    help_two = make_group(
        env,
        "helpdesk tier 2",
        members=(people["lee.gu@contoso.example"], people["kim.akers@contoso.example"]),
    )
    make_group(env, "Finance")
    headers = app_auth("Group.Read.All")
    groups = api.get(
        "/v1.0/groups", params={"$filter": "startswith(displayName,'HELP')"}, headers=headers
    ).json()
    assert [g["displayName"] for g in groups["value"]] == ["Helpdesk", "helpdesk tier 2"]
    members = api.get(
        f"/v1.0/groups/{help_two.id}/members",
        params={"$filter": "startswith(displayName,'lee')"},
        headers=headers,
    )
    assert upns(members) == ["lee.gu@contoso.example"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("displayName ne 'x'", "Filter operator 'ne' is not supported."),
        ("displayName eq 'a' or displayName eq 'b'", "Filter operator 'or' is not supported."),
        ("not(displayName eq 'a')", "Filter operator 'not' is not supported."),
        ("endswith(mail,'@contoso.example')", "Filter function 'endswith' is not supported."),
        (
            "surname eq 'x'",
            "Unsupported or invalid query filter clause specified for property 'surname' of resource 'User'.",
        ),
        (
            "startswith(id,'6f')",
            "Unsupported or invalid query filter clause specified for property 'id' of resource 'User'.",
        ),
    ],
)
def test_unsupported_filter_is_400_request_unsupported_query(
    api: TestClient, app_auth: TokenFactory, expression: str, message: str
) -> None:
    response = api.get("/v1.0/users", params={"$filter": expression}, headers=app_auth("User.Read.All"))
    error = assert_graph_error(response, 400, "Request_UnsupportedQuery")
    assert error["message"] == (
        f"{message} Passbridge supports eq and startswith(property,'text') (and ge and le on dates), "
        "joined with and."
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "displayName eq 'unterminated",
            "Invalid filter clause: syntax error at position 15 in 'displayName eq 'unterminated'.",
        ),
        ("displayName eq", "Invalid filter clause: unexpected end of 'displayName eq'."),
        ("displayName eq 'a' and", "Invalid filter clause: unexpected end of 'displayName eq 'a' and'."),
        ("accountEnabled eq 'true'", "Invalid filter clause: 'accountEnabled' compares with true or false."),
        (
            "startswith(displayName,null)",
            "Invalid filter clause: startswith on 'displayName' needs a quoted string.",
        ),
        ("(displayName eq 'a'", "Invalid filter clause: unexpected end of '(displayName eq 'a''."),
        ("displayName eq 'a' 'b'", "Invalid filter clause: unexpected ''b'' in 'displayName eq 'a' 'b''."),
        ("  ", "Invalid filter clause: the filter is empty."),
        (
            "(" * 20 + "displayName eq 'a'" + ")" * 20,
            "Invalid filter clause: parentheses are nested too deeply.",
        ),
    ],
)
def test_malformed_filter_is_400_bad_request(
    api: TestClient, app_auth: TokenFactory, expression: str, message: str
) -> None:
    response = api.get("/v1.0/users", params={"$filter": expression}, headers=app_auth("User.Read.All"))
    assert assert_graph_error(response, 400, "BadRequest")["message"] == message


def test_store_filters_without_loading_other_rows(env: Env, people: dict[str, str]) -> None:
    """The store answers a filtered, paged query itself; it also counts without fetching."""
    wanted = [Condition("displayName", "startswith", "KIM")]
    with env.db.transaction("read") as tx:
        first = store.find_users(tx, wanted, limit=1)
        page = store.find_users(tx, wanted, after=store.user_key(first[0]), limit=5)
        total = store.count_users(tx, wanted)
    assert [u.user_principal_name for u in page] == ["kimberly@contoso.example"]
    assert total == 2


# --- $count --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/v1.0/users?$count=true", "/v1.0/users/$count", "/beta/groups/$count", "/v1.0/groups?$count=true"],
)
def test_count_without_consistency_level_is_400_request_bad_request(
    api: TestClient, app_auth: TokenFactory, path: str
) -> None:
    response = api.get(path, headers=app_auth("User.Read.All", "Group.Read.All"))
    error = assert_graph_error(response, 400, "Request_BadRequest")
    assert error["message"] == (
        "$count is not currently supported. Send the header 'ConsistencyLevel: eventual' to count."
    )


def test_count_true_adds_the_total_of_all_pages(
    api: TestClient, app_auth: TokenFactory, people: dict[str, str]
) -> None:
    response = api.get(
        "/v1.0/users",
        params={"$count": "true", "$top": "1", "$filter": "startswith(mail,'')"},
        headers={**app_auth("User.Read.All"), **EVENTUAL},
    )
    body = response.json()
    assert list(body)[:2] == ["@odata.context", "@odata.count"]
    assert body["@odata.count"] == 2 and len(body["value"]) == 1
    follow = api.get(body["@odata.nextLink"], headers={**app_auth("User.Read.All"), **EVENTUAL}).json()
    assert follow["@odata.count"] == 2 and len(follow["value"]) == 1 and "@odata.nextLink" not in follow


def test_count_false_adds_nothing(api: TestClient, app_auth: TokenFactory) -> None:
    body = api.get("/v1.0/users?$count=false", headers=app_auth("User.Read.All")).json()
    assert "@odata.count" not in body


def test_count_with_bad_value_is_400(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get("/v1.0/users?$count=yes", headers={**app_auth("User.Read.All"), **EVENTUAL})
    assert assert_graph_error(response, 400, "BadRequest")["message"] == (
        "Invalid value 'yes' for $count; use true or false."
    )


def test_count_segment_answers_plain_text(
    api: TestClient, app_auth: TokenFactory, env: Env, people: dict[str, str]
) -> None:
    headers = {**app_auth("User.Read.All", "Group.Read.All"), **EVENTUAL}
    everyone = api.get("/v1.0/users/$count", headers=headers)
    assert everyone.status_code == 200
    assert everyone.headers["content-type"].startswith("text/plain")
    assert everyone.text == "6"
    kims = api.get("/beta/users/$count", params={"$filter": "startswith(displayName,'kim')"}, headers=headers)
    assert kims.text == "2"
    group = make_group(env, "Pair", members=(people["lee.gu@contoso.example"], people["pct@contoso.example"]))
    assert api.get(f"/v1.0/groups/{group.id}/members/$count", headers=headers).text == "2"
    assert api.get("/v1.0/groups/$count", headers=headers).text == "1"


def test_count_needs_read_permission(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get("/v1.0/users/$count", headers={**app_auth("Group.Read.All"), **EVENTUAL})
    assert_graph_error(response, 403, "Authorization_RequestDenied")


# --- other options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        (
            "$orderby=createdDateTime",
            "Request_UnsupportedQuery",
            "Unsupported sort property 'createdDateTime' for 'User'.",
        ),
        (
            "$search=%22displayName:kim%22",
            "Request_UnsupportedQuery",
            "The query option '$search' is not supported by Passbridge.",
        ),
        (
            "$expand=memberOf",
            "Request_UnsupportedQuery",
            "The query option '$expand' is not supported by Passbridge.",
        ),
        ("$frobnicate=1", "BadRequest", "The query parameter '$frobnicate' is not supported."),
    ],
)
def test_unsupported_query_options_are_refused_not_ignored(
    api: TestClient, app_auth: TokenFactory, query: str, code: str, message: str
) -> None:
    response = api.get(f"/v1.0/users?{query}", headers=app_auth("User.Read.All"))
    assert assert_graph_error(response, 400, code)["message"] == message


def test_single_user_accepts_only_select(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.get("/v1.0/users/admin@contoso.example?$top=1", headers=app_auth("User.Read.All"))
    assert assert_graph_error(response, 400, "BadRequest")["message"] == (
        "The query parameter '$top' is not supported."
    )


def test_plain_query_parameters_are_ignored_as_graph_does(api: TestClient, app_auth: TokenFactory) -> None:
    assert upns(api.get("/v1.0/users?tracking=abc", headers=app_auth("User.Read.All"))) == [
        "admin@contoso.example"
    ]
