"""Graph's JSON batching ($batch): up to 20 requests run through the same app with the caller's token,
dependsOn honoured (424 after a failed dependency), and a malformed batch a 400 for the whole."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.services.context import Env
from tests.api.conftest import TokenFactory
from tests.factories import make_user


@pytest.fixture
def admin(app_auth: TokenFactory) -> dict[str, str]:
    return app_auth("User.ReadWrite.All")


JSON = {"Content-Type": "application/json"}
REPORTS = "users/boss@contoso.example/directReports?$select=id,userPrincipalName"


def _new_user(request_id: str, upn: str, **props: Any) -> dict[str, Any]:
    body = {"accountEnabled": True, "displayName": upn.split("@")[0], "userPrincipalName": upn, **props}
    return {"id": request_id, "method": "POST", "url": "/users", "headers": JSON, "body": body}


def _set_manager(request_id: str, upn: str, manager: str, depends: list[str]) -> dict[str, Any]:
    return {
        "id": request_id,
        "method": "PUT",
        "url": f"/users/{upn}/manager/$ref",
        "headers": JSON,
        "body": {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{manager}"},
        "dependsOn": depends,
    }


def _batch(api: TestClient, headers: dict[str, str], requests: Any, version: str = "v1.0") -> Any:
    return api.post(f"/{version}/$batch", json={"requests": requests}, headers=headers)


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_a_batch_creates_users_and_sets_their_managers_in_order(
    api: TestClient, admin: dict[str, str], version: str
) -> None:
    requests = [
        _new_user("1", "boss@contoso.example", department="Finance"),
        _new_user("2", "ada@contoso.example", employeeHireDate="2027-01-04T00:00:00Z"),
        _new_user("3", "bob@contoso.example"),
        _set_manager("4", "ada@contoso.example", "boss@contoso.example", ["1", "2"]),
        _set_manager("5", "bob@contoso.example", "boss@contoso.example", ["1", "3"]),
        _one("6", url=REPORTS, dependsOn=["4", "5"]),
    ]
    response = _batch(api, admin, requests, version)
    assert response.status_code == 200, response.text
    answers = {a["id"]: a for a in response.json()["responses"]}
    assert [a["id"] for a in response.json()["responses"]] == ["1", "2", "3", "4", "5", "6"]
    assert [answers[i]["status"] for i in "123456"] == [201, 201, 201, 204, 204, 200]
    assert answers["1"]["body"]["userPrincipalName"] == "boss@contoso.example"
    assert answers["1"]["headers"]["content-type"].startswith("application/json")
    assert "body" not in answers["4"]
    reports = answers["6"]["body"]
    assert reports["@odata.context"].startswith(f"http://localhost:8000/{version}/$metadata#directoryObjects")
    assert sorted(r["userPrincipalName"] for r in reports["value"]) == [
        "ada@contoso.example",
        "bob@contoso.example",
    ]


def test_a_request_after_a_failed_dependency_is_424_and_not_run(
    api: TestClient, admin: dict[str, str]
) -> None:
    requests = [
        _new_user("a", "bad@contoso.example", usageLocation="XX"),
        _new_user("b", "after@contoso.example") | {"dependsOn": ["a"]},
        _new_user("c", "later@contoso.example") | {"dependsOn": ["b"]},
        _new_user("d", "free@contoso.example"),
    ]
    answers = {a["id"]: a for a in _batch(api, admin, requests).json()["responses"]}
    assert [answers[i]["status"] for i in "abcd"] == [400, 424, 424, 201]
    assert answers["b"]["body"]["error"]["code"] == "FailedDependency"
    for upn in ("bad", "after", "later"):
        assert api.get(f"/v1.0/users/{upn}@contoso.example", headers=admin).status_code == 404
    assert api.get("/v1.0/users/free@contoso.example", headers=admin).status_code == 200


def test_each_request_runs_with_the_callers_own_permissions(
    api: TestClient, env: Env, app_auth: TokenFactory
) -> None:
    make_user(env, "ada@contoso.example")
    reader = app_auth("User.Read.All")
    requests = [
        {"id": "1", "method": "GET", "url": "/users/ada@contoso.example"},
        _new_user("2", "nope@contoso.example"),
        {"id": "3", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "4", "method": "GET", "url": "/groups"},
    ]
    response = _batch(api, reader, requests)
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.json()["responses"]}
    assert [answers[i]["status"] for i in "1234"] == [200, 403, 200, 403]
    assert answers["2"]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert base64.b64decode(answers["3"]["body"]) == b"2"  # text/plain comes back base64-encoded


def test_absolute_urls_as_microsofts_sdks_send_them(api: TestClient, admin: dict[str, str]) -> None:
    requests = [
        _one("1", url="https://graph.microsoft.com/v1.0/users?$select=id"),
        _one("2", url="http://localhost:8000/beta/users/admin@contoso.example"),
        _one("3", url="/v1.0/users/$count", headers={"ConsistencyLevel": "eventual"}),
        _one("4", url="http://localhost:8000/v1.0/users/admin%40contoso.example"),  # the SDK quotes '@'
    ]
    answers = _batch(api, admin, requests).json()["responses"]
    assert [a["status"] for a in answers] == [200, 200, 200, 200]
    # Each runs on the batch's version, whatever its URL named.
    assert answers[1]["body"]["@odata.context"].startswith("http://localhost:8000/v1.0/")


def test_a_batch_needs_a_token_of_its_own(api: TestClient) -> None:
    response = _batch(api, {}, [{"id": "1", "method": "GET", "url": "/users"}])
    assert response.status_code == 401


def _one(request_id: str = "1", **fields: Any) -> dict[str, Any]:
    return {"id": request_id, "method": "GET", "url": "/users", **fields}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"requests": [_one(str(n)) for n in range(21)]}, "at most 20"),
        ({"requests": []}, "1 to 20"),
        ({}, "1 to 20"),
        ({"requests": [_one("x"), _one("X")]}, "two requests with the id"),
        ({"requests": [_one("1", dependsOn=["2"]), _one("2")]}, "Invalid dependency"),
        ({"requests": [_one("1", dependsOn=["nope"])]}, "Invalid dependency"),
        ({"requests": [_one("1", dependsOn="1")]}, "dependsOn"),
        ({"requests": [_one("1", url="/$batch")]}, "do not nest"),
        ({"requests": [_one("1", url="https://graph.microsoft.com/users")]}, "without /v1.0 or /beta"),
        ({"requests": [_one("1", url="ftp://x/v1.0/users")]}, "needs a URL"),
        ({"requests": [_one("1", url="/v1.0/")]}, "needs a URL"),
        ({"requests": [_one("1", url="https://graph.microsoft.com/beta/$batch")]}, "do not nest"),
        ({"requests": [_one("1", method="TRACE")]}, "method"),
        ({"requests": [_one("1", method="POST", body={"a": 1})]}, "no Content-Type"),
        ({"requests": [{"method": "GET", "url": "/users"}]}, "'id'"),
        ({"requests": ["GET /users"]}, "not a JSON object"),
        ({"requests": [_one("1", headers=["x"])]}, "headers"),
    ],
)
def test_a_malformed_batch_is_a_400_for_the_whole(
    api: TestClient, admin: dict[str, str], body: dict[str, Any], words: str
) -> None:
    response = api.post("/v1.0/$batch", json=body, headers=admin)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BadRequest" and words in error["message"]


def test_a_batch_that_is_not_json_is_graphs_400(api: TestClient, admin: dict[str, str]) -> None:
    response = api.post("/v1.0/$batch", content=b"{requests", headers={**admin, **JSON})
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"


def test_nothing_runs_when_the_batch_is_malformed(api: TestClient, admin: dict[str, str]) -> None:
    requests = [_new_user("1", "first@contoso.example"), _one("2", method="TRACE")]
    assert _batch(api, admin, requests).status_code == 400
    assert api.get("/v1.0/users/first@contoso.example", headers=admin).status_code == 404
