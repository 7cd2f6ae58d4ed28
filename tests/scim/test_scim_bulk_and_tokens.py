"""/Bulk, provisioning tokens, discovery and routing errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from passbridge.scim.tokens import ProvisioningTokens
from passbridge.services.context import Env, operator
from passbridge.store.models import ProvisioningToken
from tests.scim.conftest import BULK, GROUP, OURS, SCIM, USER, new_token


def _user_op(bulk_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER], "userName": name, **extra},
    }


def test_bulk_resolves_bulk_ids_in_any_order(api: TestClient, scim_auth: dict[str, str]) -> None:
    operations = [
        # The group names two users created after it, and one user names her manager by bulkId.
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {
                "schemas": [GROUP],
                "displayName": "Joiners",
                "members": [{"value": "bulkId:ada"}, {"value": "bulkId:boss"}],
            },
        },
        _user_op(
            "ada",
            "ada@contoso.example",
            schemas=[USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            **{
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "manager": {"value": "bulkId:boss"}
                }
            },
        ),
        _user_op("boss", "grace@contoso.example"),
    ]
    response = api.post(f"{SCIM}/Bulk", json={"schemas": [BULK], "Operations": operations}, headers=scim_auth)
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "201"]
    assert [r["bulkId"] for r in results] == ["g", "ada", "boss"]
    group = api.get(results[0]["location"].replace("http://localhost:8000", ""), headers=scim_auth).json()
    ada = api.get(results[1]["location"].replace("http://localhost:8000", ""), headers=scim_auth).json()
    boss_id = results[2]["location"].rsplit("/", 1)[1]
    assert sorted(m["value"] for m in group["members"]) == sorted([ada["id"], boss_id])
    assert ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"]["value"] == boss_id


def test_one_failed_operation_leaves_the_others_and_fail_on_errors_stops(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    operations = [
        _user_op("a", "ada@contoso.example"),
        _user_op("b", "ada@contoso.example"),  # the same name: 409
        _user_op("c", "cy@contoso.example"),
        {"method": "DELETE", "path": "/Users/bulkId:nowhere"},
    ]
    body = api.post(
        f"{SCIM}/Bulk", json={"schemas": [BULK], "Operations": operations}, headers=scim_auth
    ).json()
    assert [r["status"] for r in body["Operations"]] == ["201", "409", "201", "409"]
    assert body["Operations"][1]["response"]["scimType"] == "uniqueness"
    stop = [_user_op("d", "cy@contoso.example"), _user_op("e", "dee@contoso.example")]
    stopped = api.post(
        f"{SCIM}/Bulk", json={"schemas": [BULK], "failOnErrors": 1, "Operations": stop}, headers=scim_auth
    ).json()
    assert [r["status"] for r in stopped["Operations"]] == ["409"]
    assert (
        api.get(
            f"{SCIM}/Users", params={"filter": 'userName eq "dee@contoso.example"'}, headers=scim_auth
        ).json()["totalResults"]
        == 0
    )


def test_more_than_fifty_operations_is_413(api: TestClient, scim_auth: dict[str, str]) -> None:
    operations = [_user_op(f"u{i}", f"u{i}@contoso.example") for i in range(51)]
    response = api.post(f"{SCIM}/Bulk", json={"schemas": [BULK], "Operations": operations}, headers=scim_auth)
    assert response.status_code == 413
    assert (
        api.get(f"{SCIM}/Users", params={"filter": 'userName sw "u1"'}, headers=scim_auth).json()[
            "totalResults"
        ]
        == 0
    )


def test_a_token_is_stored_hashed_shown_once_and_refused_once_revoked(api: TestClient, env: Env) -> None:
    value = new_token(env, "Workday")
    auth = {"Authorization": f"Bearer {value}"}
    assert api.get(f"{SCIM}/Users", headers=auth).status_code == 200
    with env.db.transaction("read") as tx:
        [row] = tx.session.query(ProvisioningToken).all()
        assert value not in (row.secret_hash, row.name) and row.last_used_at is not None
    with env.db.transaction() as tx:
        ProvisioningTokens(tx, env, operator()).revoke("workday")
    refused = api.get(f"{SCIM}/Users", headers=auth)
    assert refused.status_code == 401 and refused.json()["status"] == "401"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert api.get(f"{SCIM}/Users").status_code == 401
    assert api.get(f"{SCIM}/Users", headers={"Authorization": "Bearer pbscim_guess"}).status_code == 401
    assert api.get(f"{SCIM}/Users", headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401


def test_discovery_says_what_is_supported_and_names_the_hire_date_extension(
    api: TestClient, scim_auth: dict[str, str]
) -> None:
    config = api.get(f"{SCIM}/ServiceProviderConfig", headers=scim_auth).json()
    assert config["bulk"] == {"supported": True, "maxOperations": 50, "maxPayloadSize": 1048576}
    assert config["etag"]["supported"] and config["patch"]["supported"] and config["sort"]["supported"]
    ours = api.get(f"{SCIM}/Schemas/{OURS}", headers=scim_auth).json()
    assert [(a["name"], a["type"]) for a in ours["attributes"]] == [("employeeHireDate", "dateTime")]
    user_type = api.get(f"{SCIM}/ResourceTypes/User", headers=scim_auth).json()
    assert {e["schema"] for e in user_type["schemaExtensions"]} == {
        OURS,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    }
    assert api.get(f"{SCIM}/Schemas/urn:nothing", headers=scim_auth).status_code == 404
    assert api.delete(f"{SCIM}/ServiceProviderConfig", headers=scim_auth).status_code == 405
    assert api.put(f"{SCIM}/Users", headers=scim_auth).status_code == 405
    assert api.get(f"{SCIM}/Nothing/here/at/all", headers=scim_auth).status_code == 404
    assert api.get(f"{SCIM}/Me", headers=scim_auth).status_code == 501
