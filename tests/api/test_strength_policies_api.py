"""Authentication strength policies over Graph: the built-in ones as Graph returns them, custom ones
created, renamed, re-combined and deleted, the method modes, permissions, audit, and bad input as
Graph's errors (never a 500)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.directory.apps import ApplicationService
from passbridge.directory.rules import Role
from passbridge.domain.errors import InvalidInput
from passbridge.methods.strength_policies import StrengthService
from passbridge.services.context import Env, operator
from passbridge.store.models import AuditEntry
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_policy_api import user_auth
from tests.factories import make_user

PATH = "/v1.0/policies/authenticationStrengthPolicies"
MFA = "00000000-0000-0000-0000-000000000002"
WRITE = "Policy.ReadWrite.AuthenticationMethod"
ONE_TIME_OR_PASSKEY = {
    "@odata.type": "#microsoft.graph.authenticationStrengthPolicy",
    "displayName": "One-time pass or passkey",
    "description": "Refuses multi-use passes",
    "allowedCombinations": ["temporaryAccessPassOneTime", "fido2"],
}


def _create(api: TestClient, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.post(PATH, json=body or ONE_TIME_OR_PASSKEY, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_the_built_in_strengths_are_listed_as_graph_returns_them(
    api: TestClient, app_auth: TokenFactory, version: str
) -> None:
    response = api.get(PATH.replace("v1.0", version), headers=app_auth("Policy.Read.All"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == (
        f"http://localhost:8000/{version}/$metadata#policies/authenticationStrengthPolicies"
    )
    first = body["value"][0]
    assert first == {
        "id": MFA,
        "createdDateTime": "2021-12-01T00:00:00Z",
        "modifiedDateTime": "2021-12-01T00:00:00Z",
        "displayName": "Multifactor authentication",
        "description": "Combinations of methods that satisfy strong authentication, such as a password + SMS",
        "policyType": "builtIn",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": ["fido2", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse"],
        "combinationConfigurations@odata.context": f"http://localhost:8000/{version}/$metadata#policies/"
        f"authenticationStrengthPolicies('{MFA}')/combinationConfigurations",
        "combinationConfigurations": [],
    }
    assert [p["displayName"] for p in body["value"]] == [
        "Multifactor authentication",
        "Passwordless MFA",
        "Phishing resistant MFA",
    ]


def test_the_method_modes_are_graphs_restricted_to_passbridges(
    api: TestClient, app_auth: TokenFactory
) -> None:
    response = api.get(f"{PATH}/authenticationMethodModes", headers=app_auth("Policy.Read.All"))
    assert response.status_code == 200, response.text
    assert response.json()["value"] == [
        {"id": "softwareOath", "displayName": "Software OATH tokens", "authenticationMethod": "softwareOath"},
        {"id": "fido2", "displayName": "FIDO2 Security Key", "authenticationMethod": "fido2"},
        {
            "id": "temporaryAccessPassOneTime",
            "displayName": "Temporary Access Pass (one-time use)",
            "authenticationMethod": "temporaryAccessPass",
        },
        {
            "id": "temporaryAccessPassMultiUse",
            "displayName": "Temporary Access Pass (multi-use)",
            "authenticationMethod": "temporaryAccessPass",
        },
    ]


def test_a_custom_strength_is_created_read_renamed_recombined_and_deleted_and_each_change_audited(
    env: Env, api: TestClient, app_auth: TokenFactory
) -> None:
    headers = app_auth(WRITE)
    created = _create(api, headers)
    assert created["policyType"] == "custom" and created["requirementsSatisfied"] == "mfa"
    assert created["allowedCombinations"] == ["temporaryAccessPassOneTime", "fido2"]
    item = f"{PATH}/{created['id']}"
    assert api.get(item, headers=headers).json()["displayName"] == "One-time pass or passkey"
    renamed = api.patch(item, json={"displayName": "Pass once", "description": "x"}, headers=headers)
    assert renamed.status_code == 204, renamed.text
    result = api.post(
        f"{item}/updateAllowedCombinations",
        json={"allowedCombinations": ["temporaryAccessPassOneTime", "softwareOath"]},
        headers=headers,
    )
    assert result.status_code == 200, result.text
    assert result.json()["previousCombinations"] == ["temporaryAccessPassOneTime", "fido2"]
    assert result.json()["currentCombinations"] == ["temporaryAccessPassOneTime", "softwareOath"]
    now = api.get(item, headers=headers).json()
    # An authenticator app alone is a single factor: the strength no longer grants MFA.
    assert (now["displayName"], now["requirementsSatisfied"]) == ("Pass once", "none")
    assert len(api.get(PATH, headers=headers).json()["value"]) == 4
    assert api.delete(item, headers=headers).status_code == 204
    assert_graph_error(api.get(item, headers=headers), 404, "itemNotFound")
    with env.db.transaction("read") as tx:
        activities = [e.activity_display_name for e in tx.session.scalars(select(AuditEntry))]
    assert activities.count("Add authentication strength policy") == 1
    assert activities.count("Update authentication strength policy") == 2
    assert activities.count("Delete authentication strength policy") == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": ["sms"]}, "'sms' is not a supported"),
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": ["temporaryAccessPass"]}, "not a supported"),
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": []}, "at least one"),
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": [""]}, "not a valid"),
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": "fido2"}, "allowedCombinations"),
        ({**ONE_TIME_OR_PASSKEY, "allowedCombinations": [7]}, "allowedCombinations"),
        ({"displayName": "No modes"}, "'allowedCombinations' is required"),
        ({"allowedCombinations": ["fido2"]}, "'displayName' is required"),
        ({**ONE_TIME_OR_PASSKEY, "displayName": "  "}, "displayName"),
        ({**ONE_TIME_OR_PASSKEY, "displayName": "x" * 300}, "at most 256"),
        ({**ONE_TIME_OR_PASSKEY, "colour": "red"}, "Invalid property 'colour'"),
        ({**ONE_TIME_OR_PASSKEY, "@odata.type": "#microsoft.graph.user"}, "@odata.type"),
    ],
)
def test_bad_strength_bodies_are_graph_errors(
    api: TestClient, app_auth: TokenFactory, body: dict[str, Any], words: str
) -> None:
    error = assert_graph_error(api.post(PATH, json=body, headers=app_auth(WRITE)), 400, "badRequest")
    assert words in error["message"]


def test_a_second_strength_of_the_same_name_is_refused_in_any_case(
    api: TestClient, app_auth: TokenFactory
) -> None:
    headers = app_auth(WRITE)
    first = _create(api, headers)
    again = api.post(
        PATH, json={**ONE_TIME_OR_PASSKEY, "displayName": "ONE-TIME pass or passkey"}, headers=headers
    )
    assert "already exists" in assert_graph_error(again, 400, "badRequest")["message"]
    built_in_name = api.post(
        PATH, json={**ONE_TIME_OR_PASSKEY, "displayName": "Passwordless MFA"}, headers=headers
    )
    assert_graph_error(built_in_name, 400, "badRequest")
    second = _create(api, headers, {**ONE_TIME_OR_PASSKEY, "displayName": "Other"})
    clash = api.patch(f"{PATH}/{second['id']}", json={"displayName": first["displayName"]}, headers=headers)
    assert_graph_error(clash, 400, "badRequest")


def test_built_in_strengths_refuse_every_change(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    item = f"{PATH}/{MFA}"
    for response in (
        api.patch(item, json={"displayName": "Mine now"}, headers=headers),
        api.post(
            f"{item}/updateAllowedCombinations", json={"allowedCombinations": ["fido2"]}, headers=headers
        ),
        api.delete(item, headers=headers),
    ):
        assert "Built-in" in assert_graph_error(response, 400, "badRequest")["message"]
    assert api.get(item, headers=headers).json()["displayName"] == "Multifactor authentication"


def test_unknown_ids_and_patching_combinations_are_graph_errors(
    api: TestClient, app_auth: TokenFactory
) -> None:
    headers = app_auth(WRITE)
    assert_graph_error(api.get(f"{PATH}/not-a-guid", headers=headers), 404, "itemNotFound")
    missing = f"{PATH}/6a7c0000-0000-4000-8000-000000000000"
    assert_graph_error(api.delete(missing, headers=headers), 404, "itemNotFound")
    assert_graph_error(api.patch(missing, json={"displayName": "x"}, headers=headers), 404, "itemNotFound")
    created = _create(api, headers)
    combos = api.patch(f"{PATH}/{created['id']}", json={"allowedCombinations": ["fido2"]}, headers=headers)
    assert "updateAllowedCombinations" in assert_graph_error(combos, 400, "badRequest")["message"]
    empty = api.post(f"{PATH}/{created['id']}/updateAllowedCombinations", json={}, headers=headers)
    assert_graph_error(empty, 400, "badRequest")


def test_a_strength_an_application_requires_cannot_be_deleted(
    env: Env, api: TestClient, app_auth: TokenFactory
) -> None:
    headers = app_auth(WRITE)
    created = _create(api, headers)
    with env.db.transaction() as tx:
        app = ApplicationService(tx, env, operator()).register(
            "Payroll", permissions=[], redirect_uris=["https://payroll.contoso.example/cb"],
            required_strength=created["id"],
        ).application  # fmt: skip
        app_id = app.app_id
    refused = api.delete(f"{PATH}/{created['id']}", headers=headers)
    assert app_id in assert_graph_error(refused, 400, "badRequest")["message"]
    result = api.post(
        f"{PATH}/{created['id']}/updateAllowedCombinations",
        json={"allowedCombinations": ["fido2"]},
        headers=headers,
    )
    assert result.json()["conditionalAccessReferences"] == [app_id]


def test_reading_takes_policy_read_all_and_changing_the_write_permission(
    api: TestClient, app_auth: TokenFactory
) -> None:
    reader = app_auth("Policy.Read.All")
    assert api.get(PATH, headers=reader).status_code == 200
    assert_graph_error(api.post(PATH, json=ONE_TIME_OR_PASSKEY, headers=reader), 403, "accessDenied")
    assert_graph_error(api.get(PATH, headers=app_auth("User.Read.All")), 403, "accessDenied")
    # Refused before the body is read: a bad body from the unauthorised is still a 403.
    assert_graph_error(api.post(PATH, content=b"{", headers=reader), 403, "accessDenied")


def test_delegated_callers_need_an_authentication_policy_role(env: Env, api: TestClient) -> None:
    admin = make_user(env, roles=(Role.AUTHENTICATION_POLICY_ADMINISTRATOR.display_name,))
    assert api.post(PATH, json=ONE_TIME_OR_PASSKEY, headers=user_auth(env, admin, WRITE)).status_code == 201
    reader = make_user(env, roles=(Role.GLOBAL_READER.display_name,))
    assert api.get(PATH, headers=user_auth(env, reader, "Policy.Read.All")).status_code == 200
    denied = api.post(PATH, json=ONE_TIME_OR_PASSKEY, headers=user_auth(env, reader, WRITE))
    assert_graph_error(denied, 403, "accessDenied")
    helpdesk = make_user(env, roles=(Role.AUTHENTICATION_ADMINISTRATOR.display_name,))
    assert_graph_error(
        api.get(PATH, headers=user_auth(env, helpdesk, "Policy.Read.All")), 403, "accessDenied"
    )


def test_two_strengths_created_at_once_under_one_name_leave_one_and_refuse_the_other(env: Env) -> None:
    if env.db.dialect == "sqlite":
        pytest.skip("SQLite lets one writer at a time: the second request never sees the first uncommitted")
    refused: list[str] = []

    def second() -> None:
        try:
            with env.db.transaction() as tx:
                StrengthService(tx, env, operator()).create("Once", "", ["fido2"])
        except InvalidInput as exc:
            refused.append(exc.message)

    with env.db.transaction() as tx:
        StrengthService(tx, env, operator()).create("Once", "", ["temporaryAccessPassOneTime"])
        # The second looks for the name now (not yet committed: free), then waits on the unique index.
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(timeout=1)
        assert racer.is_alive()
    racer.join(timeout=10)
    assert refused == ["An authentication strength policy named 'Once' already exists."]
