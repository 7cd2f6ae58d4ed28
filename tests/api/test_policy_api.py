"""The authentication methods policy over Graph: shapes, PATCH/DELETE rules, permissions, audit,
and the policy's reach into passes that already exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.clock import ManualClock
from passbridge.directory.rules import Role
from passbridge.passes import policy_queries as policy_store
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, User
from passbridge.tokens.service import sign_claims
from tests.api.conftest import TokenFactory
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_method_configurations_api import FIDO2_DEFAULTS, OATH_DEFAULTS
from tests.factories import make_group, make_user

CONFIG = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
POLICY = "/v1.0/policies/authenticationMethodsPolicy"
TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
WRITE = "Policy.ReadWrite.AuthenticationMethod"

DEFAULTS: dict[str, Any] = {
    "@odata.type": TAP_TYPE,
    "id": "TemporaryAccessPass",
    "state": "enabled",
    "defaultLifetimeInMinutes": 60,
    "defaultLength": 8,
    "minimumLifetimeInMinutes": 60,
    "maximumLifetimeInMinutes": 480,
    "isUsableOnce": False,
    "includeSymbols": False,
    "requireReason": False,
    "enforcedPurpose": None,
    "revokeMultiUseAfterPasskey": False,
    "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}],
    "excludeTargets": [],
}


def snapshot(env: Env) -> tuple[Any, ...]:
    """Everything a policy write may touch: the policy, its version and the audit log."""
    with env.db.transaction("read") as tx:
        policy, modified = policy_store.load(tx)
        stamp = policy_store.stamp(tx)
        audits = tx.session.scalar(select(func.count()).select_from(AuditEntry))
        return policy, modified, stamp, audits


def user_auth(env: Env, user: User, *scopes: str) -> dict[str, str]:
    """A delegated token for `user` holding `scopes`."""
    now = int(env.clock.now().timestamp())
    claims = {
        "iss": env.settings.base_url,
        "aud": env.settings.base_url,
        "sub": user.id,
        "oid": user.id,
        "scp": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
    }
    with env.db.transaction("read") as tx:
        return {"Authorization": f"Bearer {sign_claims(tx, env, claims)}"}


def config_of(api: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = api.get(CONFIG, headers=headers)
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if k != "@odata.context"}


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_tap_configuration_reads_with_graph_names_and_defaults(
    api: TestClient, app_auth: TokenFactory, version: str
) -> None:
    path = CONFIG.replace("v1.0", version)
    response = api.get(path, headers=app_auth("Policy.Read.AuthenticationMethod"))
    assert response.status_code == 200
    body = response.json()
    assert body.pop("@odata.context") == (
        f"http://localhost:8000/{version}/$metadata#policies/authenticationMethodsPolicy/"
        "authenticationMethodConfigurations/$entity"
    )
    assert body == DEFAULTS


def test_configuration_id_matches_case_insensitively(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth("Policy.Read.All")
    for spelling in ("temporaryAccessPass", "TEMPORARYACCESSPASS"):
        response = api.get(CONFIG.replace("TemporaryAccessPass", spelling), headers=headers)
        assert response.status_code == 200
        assert response.json()["id"] == "TemporaryAccessPass"


def test_methods_policy_lists_every_configuration_with_version(
    api: TestClient, app_auth: TokenFactory
) -> None:
    response = api.get(POLICY, headers=app_auth("Policy.Read.AuthenticationMethod"))
    assert response.status_code == 200
    assert response.json() == {
        "@odata.context": "http://localhost:8000/v1.0/$metadata#authenticationMethodsPolicy",
        "id": "authenticationMethodsPolicy",
        "displayName": "Authentication Methods Policy",
        "description": (
            "The tenant-wide policy that controls which authentication methods are allowed in the tenant "
            "and who may use them."
        ),
        "lastModifiedDateTime": "2026-01-01T09:00:00Z",
        "policyVersion": "1",
        "authenticationMethodConfigurations": [DEFAULTS, FIDO2_DEFAULTS, OATH_DEFAULTS],
    }


def test_configuration_collection_lists_tap_fido2_and_software_oath(
    api: TestClient, app_auth: TokenFactory
) -> None:
    response = api.get(f"{POLICY}/authenticationMethodConfigurations", headers=app_auth("Policy.Read.All"))
    assert response.status_code == 200
    assert response.json()["value"] == [DEFAULTS, FIDO2_DEFAULTS, OATH_DEFAULTS]


@pytest.mark.parametrize("permission", ["Policy.Read.AuthenticationMethod", "Policy.Read.All", WRITE])
def test_each_read_permission_may_read(api: TestClient, app_auth: TokenFactory, permission: str) -> None:
    assert api.get(CONFIG, headers=app_auth(permission)).status_code == 200


@pytest.mark.parametrize("path", [CONFIG, POLICY])
def test_read_without_policy_permission_is_403_access_denied(
    api: TestClient, app_auth: TokenFactory, path: str
) -> None:
    response = api.get(path, headers=app_auth("UserAuthenticationMethod.ReadWrite.All"))
    error = assert_graph_error(response, 403, "accessDenied")
    assert "Policy.Read.AuthenticationMethod" in error["message"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_configuration_is_404_item_not_found_and_changes_nothing(
    api: TestClient, app_auth: TokenFactory, env: Env, method: str
) -> None:
    headers = app_auth(WRITE)
    before = snapshot(env)
    response = api.request(
        method,
        CONFIG.replace("TemporaryAccessPass", "Email"),
        headers=headers,
        json={"state": "enabled"},
    )
    error = assert_graph_error(response, 404, "itemNotFound")
    assert error["message"] == "No authentication method configuration with id 'Email' exists."
    assert snapshot(env) == before


# --- PATCH -----------------------------------------------------------------------------------


def test_patch_is_204_and_keeps_omitted_properties(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    response = api.patch(CONFIG, headers=headers, json={"@odata.type": TAP_TYPE, "defaultLength": 12})
    assert response.status_code == 204 and response.content == b""
    response = api.patch(CONFIG, headers=headers, json={"maximumLifetimeInMinutes": 1440})
    assert response.status_code == 204
    assert config_of(api, headers) == {**DEFAULTS, "defaultLength": 12, "maximumLifetimeInMinutes": 1440}


def test_patch_bumps_policy_version_and_last_modified(
    api: TestClient, app_auth: TokenFactory, clock: ManualClock
) -> None:
    headers = app_auth(WRITE)
    clock.advance(minutes=5)
    assert api.patch(CONFIG, headers=headers, json={"isUsableOnce": True}).status_code == 204
    body = api.get(POLICY, headers=headers).json()
    assert (body["policyVersion"], body["lastModifiedDateTime"]) == ("2", "2026-01-01T09:05:00Z")
    clock.advance(minutes=5)
    assert api.delete(CONFIG, headers=headers).status_code == 204
    body = api.get(POLICY, headers=headers).json()
    assert (body["policyVersion"], body["lastModifiedDateTime"]) == ("3", "2026-01-01T09:10:00Z")


def test_patch_accepts_a_round_tripped_get_body(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    body = api.get(CONFIG, headers=headers).json()
    body["includeTargets@odata.context"] = "http://localhost:8000/v1.0/$metadata#whatever"
    body["defaultLength"] = 10
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    assert config_of(api, headers)["defaultLength"] == 10


def test_patch_accepts_the_base_configuration_type(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    body = {"@odata.type": "#microsoft.graph.authenticationMethodConfiguration", "state": "disabled"}
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    assert config_of(api, headers)["state"] == "disabled"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration", "state": "enabled"},
            "The @odata.type '#microsoft.graph.fido2AuthenticationMethodConfiguration' does not match "
            f"this resource; expected {TAP_TYPE}.",
        ),
        ({"defaultLenght": 12}, "Invalid property 'defaultLenght' for this resource."),
        (
            {"defaultLength": "12"},
            "Invalid value for property 'defaultLength': Input should be a valid integer.",
        ),
        (
            {"isUsableOnce": "true"},
            "Invalid value for property 'isUsableOnce': Input should be a valid boolean.",
        ),
        ({"defaultLength": None}, "Invalid value for property 'defaultLength': must not be null."),
        (
            {"state": "off"},
            "Invalid value for property 'state': Input should be 'enabled' or 'disabled'.",
        ),
        ({"id": "Fido2"}, "The id 'Fido2' does not match this configuration (TemporaryAccessPass)."),
        ({"defaultLength": 7}, "defaultLength must be between 8 and 48; got 7."),
        ({"defaultLength": 49}, "defaultLength must be between 8 and 48; got 49."),
        (
            {"maximumLifetimeInMinutes": 43201},
            "maximumLifetimeInMinutes must be between 10 and 43200; got 43201.",
        ),
        (
            {"minimumLifetimeInMinutes": 500},
            "minimumLifetimeInMinutes (500) must not exceed maximumLifetimeInMinutes (480).",
        ),
        (
            {"minimumLifetimeInMinutes": 120},
            "defaultLifetimeInMinutes (60) must lie between the minimum (120) and the maximum (480).",
        ),
        (
            {"includeTargets": [{"targetType": "group", "id": "all_users", "extra": 1}]},
            "Invalid property 'includeTargets.0.extra' for this resource.",
        ),
        (
            {"includeTargets": [{"targetType": "device", "id": "all_users"}]},
            "Invalid value for property 'includeTargets.0.targetType': Input should be 'group' or 'user'.",
        ),
        (
            {"excludeTargets": [{"targetType": "group", "id": "all_users"}]},
            "excludeTargets: 'all_users' can only be included, not excluded.",
        ),
        (
            {"includeTargets": [{"targetType": "group", "id": "8d3c5f0e-0000-4000-8000-000000000000"}]},
            "includeTargets: no group with id '8d3c5f0e-0000-4000-8000-000000000000' exists.",
        ),
        (
            {"excludeTargets": [{"targetType": "user", "id": "8d3c5f0e-0000-4000-8000-000000000001"}]},
            "excludeTargets: no user with id '8d3c5f0e-0000-4000-8000-000000000001' exists.",
        ),
        (
            {
                "includeTargets": [
                    {"targetType": "group", "id": "all_users"},
                    {"targetType": "group", "id": "all_users"},
                ]
            },
            "includeTargets: target 'all_users' is listed twice.",
        ),
    ],
)
def test_invalid_patch_is_400_bad_request_and_changes_nothing(
    api: TestClient, app_auth: TokenFactory, env: Env, body: dict[str, Any], message: str
) -> None:
    headers = app_auth(WRITE)
    before = snapshot(env)
    response = api.patch(CONFIG, headers=headers, json=body)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == message
    assert snapshot(env) == before


def test_patch_is_validated_as_a_whole(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    body = {"minimumLifetimeInMinutes": 120, "defaultLifetimeInMinutes": 120}
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    config = config_of(api, headers)
    assert (config["minimumLifetimeInMinutes"], config["defaultLifetimeInMinutes"]) == (120, 120)


def test_targets_name_existing_groups_and_users(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    group = make_group(env, "Helpdesk pilots")
    person = make_user(env, "pat@contoso.example")
    headers = app_auth(WRITE)
    body = {
        # Upper-case GUIDs name the same objects; they are stored as Graph shows them.
        "includeTargets": [{"targetType": "group", "id": group.id.upper(), "isRegistrationRequired": True}],
        "excludeTargets": [
            {"@odata.type": "#microsoft.graph.excludeTarget", "targetType": "user", "id": person.id}
        ],
    }
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    config = config_of(api, headers)
    assert config["includeTargets"] == [
        {"targetType": "group", "id": group.id, "isRegistrationRequired": True}
    ]
    assert config["excludeTargets"] == [{"targetType": "user", "id": person.id}]


def test_write_needs_readwrite_permission(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    headers = app_auth("Policy.Read.All", "Policy.Read.AuthenticationMethod")
    before = snapshot(env)
    for response in (
        api.patch(CONFIG, headers=headers, json={"defaultLength": 12}),
        # Permission is settled before the body is read: a bad body from the unauthorised is still 403.
        api.patch(CONFIG, headers=headers, json={"nonsense": 1}),
        api.delete(CONFIG, headers=headers),
    ):
        error = assert_graph_error(response, 403, "accessDenied")
        assert error["message"] == (
            "Insufficient privileges to complete the operation. Requires one of: "
            "Policy.ReadWrite.AuthenticationMethod."
        )
    assert snapshot(env) == before


# --- DELETE ----------------------------------------------------------------------------------


def test_delete_is_204_and_reverts_to_defaults(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    group = make_group(env)
    headers = app_auth(WRITE)
    body = {
        "state": "disabled",
        "defaultLength": 20,
        "isUsableOnce": True,
        "excludeTargets": [{"targetType": "group", "id": group.id}],
    }
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    response = api.delete(CONFIG.replace("TemporaryAccessPass", "temporaryAccessPass"), headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert config_of(api, headers) == DEFAULTS


# --- audit -----------------------------------------------------------------------------------


def _policy_audits(api: TestClient, app_auth: TokenFactory) -> list[dict[str, Any]]:
    response = api.get(
        "/v1.0/auditLogs/directoryAudits",
        params={"$filter": "category eq 'Policy'"},
        headers=app_auth("AuditLog.Read.All"),
    )
    assert response.status_code == 200
    return list(response.json()["value"])


def test_update_and_reset_are_audited_with_old_and_new_values(
    api: TestClient, app_auth: TokenFactory, clock: ManualClock
) -> None:
    headers = app_auth(WRITE)
    assert (
        api.patch(CONFIG, headers=headers, json={"defaultLength": 12, "state": "enabled"}).status_code == 204
    )
    clock.advance(seconds=1)
    assert api.delete(CONFIG, headers=headers).status_code == 204
    reset, update = _policy_audits(api, app_auth)
    assert update["activityDisplayName"] == "Authentication Methods Policy Update"
    assert reset["activityDisplayName"] == "Authentication Methods Policy Reset"
    for entry in (update, reset):
        assert (entry["category"], entry["loggedByService"], entry["operationType"], entry["result"]) == (
            "Policy",
            "Authentication Methods",
            "Update",
            "success",
        )
        assert entry["initiatedBy"]["app"]["displayName"].startswith("App ")
        [target] = entry["targetResources"]
        assert (target["type"], target["id"], target["displayName"]) == (
            "Policy",
            "TemporaryAccessPass",
            "Temporary Access Pass",
        )
    # Only what changed is listed: state was sent but already enabled.
    assert update["targetResources"][0]["modifiedProperties"] == [
        {"displayName": "defaultLength", "oldValue": "8", "newValue": "12"}
    ]
    assert reset["targetResources"][0]["modifiedProperties"] == [
        {"displayName": "defaultLength", "oldValue": "12", "newValue": "8"}
    ]


def test_target_changes_are_audited_as_json(api: TestClient, app_auth: TokenFactory, env: Env) -> None:
    group = make_group(env)
    body = {"excludeTargets": [{"targetType": "group", "id": group.id}]}
    assert api.patch(CONFIG, headers=app_auth(WRITE), json=body).status_code == 204
    [update] = _policy_audits(api, app_auth)
    assert update["targetResources"][0]["modifiedProperties"] == [
        {
            "displayName": "excludeTargets",
            "oldValue": "[]",
            "newValue": f'[{{"targetType": "group", "id": "{group.id}"}}]',
        }
    ]


# --- delegated callers -----------------------------------------------------------------------


def test_authentication_policy_administrator_may_change_the_policy(api: TestClient, env: Env) -> None:
    admin = make_user(env, roles=(Role.AUTHENTICATION_POLICY_ADMINISTRATOR.display_name,))
    headers = user_auth(env, admin, WRITE)
    assert api.patch(CONFIG, headers=headers, json={"defaultLength": 16}).status_code == 204
    assert config_of(api, headers)["defaultLength"] == 16


def test_global_reader_may_read_but_not_change(api: TestClient, env: Env) -> None:
    reader = make_user(env, roles=(Role.GLOBAL_READER.display_name,))
    headers = user_auth(env, reader, WRITE)
    assert config_of(api, headers) == DEFAULTS
    before = snapshot(env)
    error = assert_graph_error(
        api.patch(CONFIG, headers=headers, json={"defaultLength": 16}), 403, "accessDenied"
    )
    assert error["message"] == (
        "To change the authentication methods policy you need the role "
        "Authentication Policy Administrator or Global Administrator."
    )
    assert snapshot(env) == before


def test_user_without_a_policy_role_may_not_read(api: TestClient, env: Env) -> None:
    helpdesk = make_user(env, roles=(Role.AUTHENTICATION_ADMINISTRATOR.display_name,))
    response = api.get(CONFIG, headers=user_auth(env, helpdesk, "Policy.Read.All"))
    assert_graph_error(response, 403, "accessDenied")


def test_user_with_role_but_no_scope_may_not_read(api: TestClient, env: Env) -> None:
    admin = make_user(env, roles=(Role.GLOBAL_ADMINISTRATOR.display_name,))
    response = api.get(CONFIG, headers=user_auth(env, admin, "User.Read.All"))
    assert_graph_error(response, 403, "accessDenied")


# --- the policy reaches existing passes ------------------------------------------------------


def _issue(api: TestClient, headers: dict[str, str], user_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(
        f"/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods", headers=headers, json=body
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def _usability(api: TestClient, headers: dict[str, str], user_id: str, pass_id: str) -> tuple[bool, str]:
    response = api.get(
        f"/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods/{pass_id}", headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["isUsable"], body["methodUsabilityReason"]


@pytest.fixture
def issuer(app_auth: TokenFactory) -> dict[str, str]:
    return app_auth("UserAuthenticationMethod.ReadWrite.All", WRITE)


def test_forcing_one_time_disables_an_existing_reusable_pass(
    api: TestClient, env: Env, issuer: dict[str, str]
) -> None:
    person = make_user(env)
    issued = _issue(api, issuer, person.id, {"isUsableOnce": False})
    assert _usability(api, issuer, person.id, issued["id"]) == (True, "EnabledByPolicy")
    assert api.patch(CONFIG, headers=issuer, json={"isUsableOnce": True}).status_code == 204
    assert _usability(api, issuer, person.id, issued["id"]) == (False, "DisabledByPolicy")
    assert api.patch(CONFIG, headers=issuer, json={"isUsableOnce": False}).status_code == 204
    assert _usability(api, issuer, person.id, issued["id"]) == (True, "EnabledByPolicy")


def test_disabling_the_policy_disables_passes_and_refuses_new_ones(
    api: TestClient, env: Env, issuer: dict[str, str]
) -> None:
    person = make_user(env)
    issued = _issue(api, issuer, person.id, {})
    assert api.patch(CONFIG, headers=issuer, json={"state": "disabled"}).status_code == 204
    assert _usability(api, issuer, person.id, issued["id"]) == (False, "DisabledByPolicy")
    response = api.post(
        f"/v1.0/users/{person.id}/authentication/temporaryAccessPassMethods", headers=issuer, json={}
    )
    error = assert_graph_error(response, 400, "badRequest")
    assert (
        error["message"] == "The Temporary Access Pass policy is disabled; enable it before creating passes."
    )
    # The refused creation left the earlier pass in place.
    assert _usability(api, issuer, person.id, issued["id"]) == (False, "DisabledByPolicy")


def test_excluding_the_users_group_disables_their_pass(
    api: TestClient, env: Env, issuer: dict[str, str]
) -> None:
    person = make_user(env)
    bystander = make_user(env)
    group = make_group(env, members=(person.id,))
    issued = _issue(api, issuer, person.id, {})
    other = _issue(api, issuer, bystander.id, {})
    body = {"excludeTargets": [{"targetType": "group", "id": group.id}]}
    assert api.patch(CONFIG, headers=issuer, json=body).status_code == 204
    assert _usability(api, issuer, person.id, issued["id"]) == (False, "DisabledByPolicy")
    assert _usability(api, issuer, bystander.id, other["id"]) == (True, "EnabledByPolicy")


def test_including_only_one_group_disables_passes_outside_it(
    api: TestClient, env: Env, issuer: dict[str, str]
) -> None:
    member = make_user(env)
    outsider = make_user(env)
    group = make_group(env, members=(member.id,))
    body = {"includeTargets": [{"targetType": "group", "id": group.id}]}
    assert api.patch(CONFIG, headers=issuer, json=body).status_code == 204
    inside = _issue(api, issuer, member.id, {})
    # Targeting limits use, not creation: the outsider's pass is created and reads unusable.
    outside = _issue(api, issuer, outsider.id, {})
    assert (inside["isUsable"], outside["isUsable"]) == (True, False)
    assert _usability(api, issuer, outsider.id, outside["id"]) == (False, "DisabledByPolicy")


def test_default_length_shapes_the_next_pass(api: TestClient, env: Env, issuer: dict[str, str]) -> None:
    person = make_user(env)
    assert len(_issue(api, issuer, person.id, {})["temporaryAccessPass"]) == 8
    assert api.patch(CONFIG, headers=issuer, json={"defaultLength": 12}).status_code == 204
    assert len(_issue(api, issuer, person.id, {})["temporaryAccessPass"]) == 12


def test_the_symbols_extension_round_trips_and_passes_then_hold_symbols(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    """includeSymbols is a Passbridge extension on the TAP configuration (docs/graph-compat.md)."""
    headers = app_auth(WRITE)
    body = {"includeSymbols": True, "defaultLength": 48}
    assert api.patch(CONFIG, headers=headers, json=body).status_code == 204
    assert config_of(api, headers)["includeSymbols"] is True
    refused = api.patch(CONFIG, headers=headers, json={"includeSymbols": "yes"})
    assert refused.status_code == 400


def test_the_require_reason_extension_refuses_passes_without_a_reason(
    api: TestClient, env: Env, issuer: dict[str, str]
) -> None:
    """requireReason is a Passbridge extension on the TAP configuration (docs/graph-compat.md); `reason`
    one on the pass's create body, kept in the audit entry."""
    person = make_user(env)
    assert api.patch(CONFIG, headers=issuer, json={"requireReason": True}).status_code == 204
    assert config_of(api, issuer)["requireReason"] is True
    path = f"/v1.0/users/{person.id}/authentication/temporaryAccessPassMethods"
    for body in ({}, {"reason": "  "}):
        refused = assert_graph_error(api.post(path, headers=issuer, json=body), 400, "badRequest")
        assert "requires a reason" in refused["message"]
    issued = _issue(api, issuer, person.id, {"reason": "HR-1234 first day"})
    assert "reason" not in issued  # Graph's shape is unchanged
    with env.db.transaction("read") as tx:
        entries = tx.session.scalars(
            select(AuditEntry).where(AuditEntry.activity_display_name == "Admin registered security info")
        ).all()
    [entry] = [e for e in entries if e.target_resources[0]["id"] == person.id]
    assert entry.additional_details == [{"key": "reason", "value": "HR-1234 first day"}]
    too_long = api.post(path, headers=issuer, json={"reason": "x" * 257})
    assert_graph_error(too_long, 400, "badRequest")
    assert "at most 256 characters" in too_long.json()["error"]["message"]
    assert_graph_error(api.post(path, headers=issuer, json={"reason": 7}), 400, "badRequest")
    assert api.patch(CONFIG, headers=issuer, json={"requireReason": False}).status_code == 204
    assert _issue(api, issuer, person.id, {})["isUsable"] is True
