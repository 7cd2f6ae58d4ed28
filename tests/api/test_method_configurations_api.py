"""The Fido2 and SoftwareOath configurations of the authentication methods policy over Graph, and
`method_allowed`, which registration and sign-in ask."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.passes.policy import method_allowed, passkey_registration_allowed
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.passwordless_helpers import store_snapshot
from tests.api.tap_helpers import audits_of, user_auth
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_group, make_user

CONFIGS = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
POLICY = "/v1.0/policies/authenticationMethodsPolicy"
WRITE = "Policy.ReadWrite.AuthenticationMethod"
ALL_USERS = [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}]
DEFAULT_PROFILE = "00000000-0000-0000-0000-000000000001"
FIDO2_DEFAULTS: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
    "id": "Fido2",
    "state": "enabled",
    "includeTargets": [{**ALL_USERS[0], "allowedPasskeyProfiles": [DEFAULT_PROFILE]}],
    "excludeTargets": [],
    "isSelfServiceRegistrationAllowed": True,
    "isAttestationEnforced": False,
    "keyRestrictions": {"isEnforced": False, "enforcementType": "block", "aaGuids": []},
    "defaultPasskeyProfile": DEFAULT_PROFILE,
    "passkeyProfiles": [
        {
            "id": DEFAULT_PROFILE,
            "name": "Default passkey profile",
            "passkeyTypes": "deviceBound,synced",
            "attestationEnforcement": "disabled",
            "keyRestrictions": {"isEnforced": False, "enforcementType": "block", "aaGuids": []},
            "attestationTrustRoots": [],
        }
    ],
    "attestationTrustRoots": [],
}
OATH_DEFAULTS: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethodConfiguration",
    "id": "SoftwareOath",
    "state": "enabled",
    "includeTargets": ALL_USERS,
    "excludeTargets": [],
}
DEFAULTS = {"Fido2": FIDO2_DEFAULTS, "SoftwareOath": OATH_DEFAULTS}


def _allowed(env: Env, user_id: str, method: str) -> bool:
    with env.db.transaction("read") as tx:
        return method_allowed(tx, user_id, method)


def _version(api: TestClient, headers: dict[str, str]) -> int:
    return int(api.get(POLICY, headers=headers).json()["policyVersion"])


@pytest.mark.parametrize("config_id", ["Fido2", "fido2", "SoftwareOath", "softwareOath"])
def test_configurations_default_to_enabled_for_all_users(
    api: TestClient, app_auth: TokenFactory, config_id: str
) -> None:
    response = api.get(f"{CONFIGS}/{config_id}", headers=app_auth("Policy.Read.AuthenticationMethod"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.pop("@odata.context").endswith("authenticationMethodConfigurations/$entity")
    assert body == DEFAULTS[config_id[0].upper() + config_id[1:]]


def test_patch_fido2_is_204_stores_every_property_bumps_the_version_and_is_audited(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    headers = app_auth(WRITE)
    group = make_group(env, "Pilot")
    before = _version(api, headers)
    body = {
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "state": "disabled",
        "includeTargets": [{"targetType": "group", "id": group.id.upper(), "isRegistrationRequired": False}],
        "isSelfServiceRegistrationAllowed": False,
        "keyRestrictions": {
            "isEnforced": True,
            "enforcementType": "allow",
            "aaGuids": ["CB69481E-8FF7-4039-93EC-0A2729A154A8"],
        },
    }
    response = api.patch(f"{CONFIGS}/Fido2", json=body, headers=headers)
    assert response.status_code == 204, response.text
    stored = api.get(f"{CONFIGS}/Fido2", headers=headers).json()
    assert stored["state"] == "disabled"
    assert stored["includeTargets"] == [
        {
            "targetType": "group",
            "id": group.id,
            "isRegistrationRequired": False,
            "allowedPasskeyProfiles": [DEFAULT_PROFILE],
        }
    ]
    assert stored["isSelfServiceRegistrationAllowed"] is False
    assert stored["keyRestrictions"] == {
        "isEnforced": True,
        "enforcementType": "allow",
        "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"],
    }
    assert _version(api, headers) == before + 1
    [entry] = [e for e in audits_of(env, "Fido2") if e.activity_display_name.endswith("Update")]
    changed = {p["displayName"] for p in entry.target_resources[0]["modifiedProperties"]}
    # keyRestrictions is the default passkey profile's, so the profiles changed with it.
    assert changed == {
        "state",
        "includeTargets",
        "isSelfServiceRegistrationAllowed",
        "keyRestrictions",
        "passkeyProfiles",
    }


def test_patch_of_key_restrictions_keeps_what_it_omits(api: TestClient, app_auth: TokenFactory) -> None:
    headers = app_auth(WRITE)
    first = {"keyRestrictions": {"isEnforced": True, "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]}}
    assert api.patch(f"{CONFIGS}/Fido2", json=first, headers=headers).status_code == 204
    second = {"keyRestrictions": {"enforcementType": "allow"}}
    assert api.patch(f"{CONFIGS}/Fido2", json=second, headers=headers).status_code == 204
    assert api.get(f"{CONFIGS}/Fido2", headers=headers).json()["keyRestrictions"] == {
        "isEnforced": True,
        "enforcementType": "allow",
        "aaGuids": ["cb69481e-8ff7-4039-93ec-0a2729a154a8"],
    }


@pytest.mark.parametrize(
    ("config_id", "body", "words"),
    [
        ("Fido2", {"passkeyProfiles": []}, "cannot be removed"),
        ("Fido2", {"passkeyProfiles": [{"id": DEFAULT_PROFILE, "passkeyTypes": "roaming"}]}, "passkeyTypes"),
        ("Fido2", {"passkeyProfiles": [{"id": DEFAULT_PROFILE, "passkeyTypes": ""}]}, "passkeyTypes"),
        ("Fido2", {"passkeyProfiles": [{"id": DEFAULT_PROFILE}, {"id": "x1"}]}, "not a GUID"),
        ("Fido2", {"passkeyProfiles": [{"id": DEFAULT_PROFILE}, {"passkeyTypes": "synced"}]}, "needs a name"),
        ("Fido2", {"passkeyProfiles": [{"id": DEFAULT_PROFILE, "name": None}]}, "must not be null"),
        (
            "Fido2",
            {"passkeyProfiles": [{"id": DEFAULT_PROFILE, "attestationEnforcement": "always"}]},
            "attestation",
        ),
        ("Fido2", {"attestationTrustRoots": ["not a certificate"]}, "PEM"),
        ("Fido2", {"defaultPasskeyProfile": "3c3b7a5e-0000-4000-8000-000000000000"}, "cannot change"),
        (
            "Fido2",
            {
                "includeTargets": [
                    {
                        "targetType": "group",
                        "id": "all_users",
                        "allowedPasskeyProfiles": ["3c3b7a5e-0000-4000-8000-000000000000"],
                    }
                ]
            },
            "no passkey profile",
        ),
        (
            "Fido2",
            {"passkeyProfiles": [{"id": DEFAULT_PROFILE, "name": "Default"}], "isAttestationEnforced": True},
            "disagrees",
        ),
        ("Fido2", {"keyRestrictions": {"enforcementType": "deny"}}, "enforcementType"),
        ("Fido2", {"keyRestrictions": {"aaGuids": ["yubikey"]}}, "not a GUID"),
        ("Fido2", {"keyRestrictions": {"isEnforced": None}}, "must not be null"),
        ("Fido2", {"state": None}, "must not be null"),
        ("Fido2", {"defaultLength": 8}, "defaultLength"),
        ("SoftwareOath", {"isSelfServiceRegistrationAllowed": False}, "isSelfServiceRegistrationAllowed"),
        ("SoftwareOath", {"state": "off"}, "state"),
        ("SoftwareOath", {"id": "Fido2"}, "does not match"),
        (
            "SoftwareOath",
            {"includeTargets": [{"targetType": "group", "id": "00000000-0000-0000-0000-0000000000aa"}]},
            "no group",
        ),
        (
            "SoftwareOath",
            {"excludeTargets": [{"targetType": "group", "id": "all_users"}]},
            "only be included",
        ),
        (
            "SoftwareOath",
            {"includeTargets": [{"targetType": "user", "id": "00000000-0000-0000-0000-0000000000aa"}]},
            "no user",
        ),
        (
            "Fido2",
            {"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethodConfiguration"},
            "odata.type",
        ),
    ],
)
def test_invalid_patch_is_400_bad_request_and_changes_nothing(
    api: TestClient, app_auth: TokenFactory, env: Env, config_id: str, body: dict[str, Any], words: str
) -> None:
    headers = app_auth(WRITE)
    before = store_snapshot(env)
    error = assert_graph_error(
        api.patch(f"{CONFIGS}/{config_id}", json=body, headers=headers), 400, "badRequest"
    )
    assert words in error["message"]
    assert store_snapshot(env) == before


@pytest.mark.parametrize("config_id", ["Fido2", "SoftwareOath"])
def test_delete_resets_to_defaults_bumps_the_version_and_is_audited(
    api: TestClient, app_auth: TokenFactory, env: Env, config_id: str
) -> None:
    headers = app_auth(WRITE)
    assert api.patch(f"{CONFIGS}/{config_id}", json={"state": "disabled"}, headers=headers).status_code == 204
    before = _version(api, headers)
    assert api.delete(f"{CONFIGS}/{config_id}", headers=headers).status_code == 204
    body = api.get(f"{CONFIGS}/{config_id}", headers=headers).json()
    body.pop("@odata.context")
    assert body == DEFAULTS[config_id]
    assert _version(api, headers) == before + 1
    assert "Authentication Methods Policy Reset" in [
        e.activity_display_name for e in audits_of(env, config_id)
    ]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize(
    "permission", ["Policy.Read.AuthenticationMethod", "UserAuthenticationMethod.ReadWrite.All"]
)
def test_changes_without_the_write_permission_are_403_and_change_nothing(
    api: TestClient, app_auth: TokenFactory, env: Env, method: str, permission: str
) -> None:
    headers = app_auth(permission)
    before = store_snapshot(env)
    response = api.request(method, f"{CONFIGS}/Fido2", json={"state": "disabled"}, headers=headers)
    assert_graph_error(response, 403, "accessDenied")
    assert store_snapshot(env) == before


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("Authentication Policy Administrator", True),
        ("Global Administrator", True),
        ("Authentication Administrator", False),
    ],
)
def test_delegated_changes_need_a_policy_role(api: TestClient, env: Env, role: str, allowed: bool) -> None:
    caller = make_user(env, roles=(role,))
    headers = user_auth(env, caller.id, WRITE)
    before = store_snapshot(env)
    response = api.patch(f"{CONFIGS}/SoftwareOath", json={"state": "disabled"}, headers=headers)
    if allowed:
        assert response.status_code == 204, response.text
    else:
        assert_graph_error(response, 403, "accessDenied")
        assert store_snapshot(env) == before


# --- method_allowed ------------------------------------------------------------------------------


def test_method_allowed_by_default_for_everyone(env: Env, ada: User) -> None:
    assert _allowed(env, ada.id, "fido2") and _allowed(env, ada.id, "softwareOath")


def test_method_allowed_follows_state_targets_and_exclusion(
    api: TestClient, app_auth: TokenFactory, env: Env, ada: User
) -> None:
    headers = app_auth(WRITE)
    grace = make_user(env, "grace@contoso.example")
    pilot = make_group(env, "Pilot", members=(ada.id, grace.id))
    blocked = make_group(env, "Blocked", members=(grace.id,))
    body = {
        "includeTargets": [{"targetType": "group", "id": pilot.id}],
        "excludeTargets": [{"targetType": "group", "id": blocked.id}],
    }
    assert api.patch(f"{CONFIGS}/SoftwareOath", json=body, headers=headers).status_code == 204
    outsider = make_user(env, "eve@contoso.example")
    assert _allowed(env, ada.id, "softwareOath")
    assert not _allowed(env, grace.id, "softwareOath")  # exclusion wins
    assert not _allowed(env, outsider.id, "softwareOath")
    assert _allowed(env, outsider.id, "fido2")  # the other configuration is untouched
    assert (
        api.patch(f"{CONFIGS}/SoftwareOath", json={"state": "disabled"}, headers=headers).status_code == 204
    )
    assert not _allowed(env, ada.id, "softwareOath")


def test_passkey_registration_also_needs_self_service_registration(
    api: TestClient, app_auth: TokenFactory, env: Env, ada: User
) -> None:
    headers = app_auth(WRITE)
    body = {"isSelfServiceRegistrationAllowed": False}
    assert api.patch(f"{CONFIGS}/Fido2", json=body, headers=headers).status_code == 204
    with env.db.transaction("read") as tx:
        assert method_allowed(tx, ada.id, "fido2")
        assert not passkey_registration_allowed(tx, ada.id)


def test_method_allowed_refuses_an_unknown_method_name(env: Env, ada: User) -> None:
    with pytest.raises(ValueError):
        _allowed(env, ada.id, "sms")


def test_a_profile_left_out_of_a_patch_is_deleted_with_its_assignments(
    api: TestClient, app_auth: TokenFactory, env: Env
) -> None:
    headers = app_auth(WRITE)
    group = make_group(env, "Admins")
    strict = "5e0c9a52-3c1d-4a8e-9f0b-2d5b7f1e6a10"
    added = {
        "passkeyProfiles": [
            {"id": DEFAULT_PROFILE},
            {"id": strict, "name": "Strict", "passkeyTypes": "deviceBound"},
        ],
        "includeTargets": [
            {"targetType": "group", "id": "all_users"},
            {"targetType": "group", "id": group.id, "allowedPasskeyProfiles": [strict.upper()]},
        ],
    }
    assert api.patch(f"{CONFIGS}/Fido2", json=added, headers=headers).status_code == 204
    stored = api.get(f"{CONFIGS}/Fido2", headers=headers).json()
    assert [t["allowedPasskeyProfiles"] for t in stored["includeTargets"]] == [[DEFAULT_PROFILE], [strict]]
    assert stored["passkeyProfiles"][1]["passkeyTypes"] == "deviceBound"
    removed = api.patch(
        f"{CONFIGS}/Fido2", json={"passkeyProfiles": [{"id": DEFAULT_PROFILE}]}, headers=headers
    )
    assert removed.status_code == 204, removed.text
    stored = api.get(f"{CONFIGS}/Fido2", headers=headers).json()
    assert [p["name"] for p in stored["passkeyProfiles"]] == ["Default passkey profile"]
    assert [t["allowedPasskeyProfiles"] for t in stored["includeTargets"]] == [
        [DEFAULT_PROFILE],
        [DEFAULT_PROFILE],
    ]
