"""Temporary Access Pass methods and the list of every method, through the Graph-compatible API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.passes.policy_rules import PolicyState, TapPolicy, Target
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import (
    BASE,
    PASS_KEYS,
    TAP_TYPE,
    WRITE,
    audits_of,
    passes_url,
    set_policy,
    snapshot,
    user_auth,
)
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_group, make_user

ISSUED = "an administrator issued a Temporary Access Pass"

# --- create -----------------------------------------------------------------------------------


def test_create_with_empty_body_returns_201_with_the_pass_once_and_policy_defaults(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    response = api.post(passes_url(ada.id), json={}, headers=writer)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == PASS_KEYS | {"@odata.context"}
    assert body["@odata.context"] == (
        f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/temporaryAccessPassMethods/$entity"
    )
    assert body["@odata.type"] == TAP_TYPE
    assert len(body["temporaryAccessPass"]) == 8
    assert body["createdDateTime"] == body["startDateTime"] == "2026-01-01T09:00:00Z"
    assert (body["lifetimeInMinutes"], body["isUsableOnce"]) == (60, False)
    assert (body["isUsable"], body["methodUsabilityReason"]) == (True, "EnabledByPolicy")
    assert response.headers["location"] == f"{BASE}{passes_url(ada.id)}/{body['id']}"


def test_create_without_a_body_at_all_is_the_same_as_an_empty_one(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    response = api.post(passes_url(ada.id), headers=writer)
    assert response.status_code == 201, response.text
    assert response.json()["lifetimeInMinutes"] == 60


def test_beta_adds_last_used_date_time(api: TestClient, writer: dict[str, str], ada: User) -> None:
    created = api.post(passes_url(ada.id, "beta"), json={}, headers=writer).json()
    assert set(created) == PASS_KEYS | {"@odata.context", "lastUsedDateTime"}
    assert created["lastUsedDateTime"] is None
    listed = api.get(passes_url(ada.id, "beta"), headers=writer).json()["value"]
    assert listed[0]["lastUsedDateTime"] is None
    assert "lastUsedDateTime" not in api.get(passes_url(ada.id), headers=writer).json()["value"][0]


def test_create_by_user_principal_name_echoes_it_in_the_context(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    response = api.post(passes_url("ADA@contoso.example"), json={}, headers=writer)
    assert response.status_code == 201, response.text
    assert response.json()["@odata.context"].endswith(
        "#users('ADA%40contoso.example')/authentication/temporaryAccessPassMethods/$entity"
    )
    assert response.headers["location"].startswith(f"{BASE}/v1.0/users/{ada.id}/")


def test_create_with_requested_terms(api: TestClient, writer: dict[str, str], ada: User) -> None:
    body = {"startDateTime": "2026-01-02T08:30:00.000Z", "lifetimeInMinutes": 480, "isUsableOnce": True}
    created = api.post(passes_url(ada.id), json=body, headers=writer).json()
    assert created["startDateTime"] == "2026-01-02T08:30:00Z"
    assert (created["lifetimeInMinutes"], created["isUsableOnce"]) == (480, True)
    assert (created["isUsable"], created["methodUsabilityReason"]) == (False, "NotYetValid")


def test_start_without_offset_is_read_as_utc(api: TestClient, writer: dict[str, str], ada: User) -> None:
    body = {"startDateTime": "2026-01-02T08:30:00"}
    created = api.post(passes_url(ada.id), json=body, headers=writer).json()
    assert created["startDateTime"] == "2026-01-02T08:30:00Z"


def test_start_with_another_offset_is_converted_to_utc(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    body = {"startDateTime": "2026-01-02T10:30:00+02:00"}
    created = api.post(passes_url(ada.id), json=body, headers=writer).json()
    assert created["startDateTime"] == "2026-01-02T08:30:00Z"


@pytest.mark.parametrize(
    "odata_type", [TAP_TYPE, "#microsoft.graph.authenticationMethod", "microsoft.graph.authenticationMethod"]
)
def test_create_accepts_the_resource_type_or_its_base_type(
    api: TestClient, writer: dict[str, str], ada: User, odata_type: str
) -> None:
    response = api.post(passes_url(ada.id), json={"@odata.type": odata_type}, headers=writer)
    assert response.status_code == 201, response.text


def test_create_ignores_other_odata_annotations(api: TestClient, writer: dict[str, str], ada: User) -> None:
    body = {"@odata.context": "whatever", "lifetimeInMinutes@odata.type": "#Int32", "lifetimeInMinutes": 90}
    response = api.post(passes_url(ada.id), json=body, headers=writer)
    assert response.status_code == 201, response.text
    assert response.json()["lifetimeInMinutes"] == 90


BAD_BODIES = [
    ({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod"}, "@odata.type"),
    ({"temporaryAccessPass": "Chosen1!"}, "Invalid property 'temporaryAccessPass' for this resource."),
    ({"lifetime": 60}, "Invalid property 'lifetime' for this resource."),
    ({"lifetimeInMinutes": "60"}, "'lifetimeInMinutes'"),
    ({"lifetimeInMinutes": 60.5}, "'lifetimeInMinutes'"),
    ({"lifetimeInMinutes": True}, "'lifetimeInMinutes'"),
    ({"isUsableOnce": "true"}, "'isUsableOnce'"),
    ({"isUsableOnce": 1}, "'isUsableOnce'"),
    ({"startDateTime": 1767258000}, "'startDateTime'"),
    ({"startDateTime": "next tuesday"}, "'startDateTime'"),
]


@pytest.mark.parametrize(("body", "mentions"), BAD_BODIES)
def test_invalid_body_is_400_and_changes_nothing(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, body: dict[str, Any], mentions: str
) -> None:
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json=body, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert mentions in error["message"]
    assert snapshot(env) == before


def test_body_that_is_not_an_object_is_400(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json=[60], headers=writer)
    assert_graph_error(response, 400, "BadRequest")
    assert snapshot(env) == before


@pytest.mark.parametrize("lifetime", [59, 481, 10, 43200, 0, -5])
def test_lifetime_outside_the_policy_bounds_is_400_with_graphs_message(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, lifetime: int
) -> None:
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json={"lifetimeInMinutes": lifetime}, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
    assert snapshot(env) == before


@pytest.mark.parametrize("lifetime", [60, 480])
def test_lifetime_on_the_policy_bounds_is_accepted(
    api: TestClient, writer: dict[str, str], ada: User, lifetime: int
) -> None:
    response = api.post(passes_url(ada.id), json={"lifetimeInMinutes": lifetime}, headers=writer)
    assert response.status_code == 201, response.text
    assert response.json()["lifetimeInMinutes"] == lifetime


def test_reusable_pass_is_refused_when_the_policy_forces_one_time(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    set_policy(env, TapPolicy(is_usable_once=True))
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json={"isUsableOnce": False}, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == "The policy requires one-time passes; isUsableOnce cannot be false."
    assert snapshot(env) == before


def test_omitted_one_time_follows_the_policy(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    set_policy(env, TapPolicy(is_usable_once=True))
    assert api.post(passes_url(ada.id), json={}, headers=writer).json()["isUsableOnce"] is True
    set_policy(env, TapPolicy(is_usable_once=False))
    assert api.post(passes_url(ada.id), json={}, headers=writer).json()["isUsableOnce"] is False


def test_policy_default_lifetime_and_length_apply_when_omitted(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    set_policy(env, TapPolicy(default_lifetime=120, default_length=14))
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    assert created["lifetimeInMinutes"] == 120
    assert len(created["temporaryAccessPass"]) == 14


def test_start_in_the_past_beyond_skew_is_400(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json={"startDateTime": "2026-01-01T08:54:59Z"}, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == "startDateTime must not be in the past."
    assert snapshot(env) == before


def test_start_slightly_in_the_past_is_clock_skew_and_means_now(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    created = api.post(
        passes_url(ada.id), json={"startDateTime": "2026-01-01T08:56:00Z"}, headers=writer
    ).json()
    assert created["startDateTime"] == "2026-01-01T09:00:00Z"
    assert created["methodUsabilityReason"] == "EnabledByPolicy"


def test_usability_is_computed_at_each_read(
    api: TestClient, clock: ManualClock, app_auth: TokenFactory, writer: dict[str, str], ada: User
) -> None:
    body = {"startDateTime": "2026-01-01T10:00:00Z", "lifetimeInMinutes": 60}
    created = api.post(passes_url(ada.id), json=body, headers=writer).json()
    url = f"{passes_url(ada.id)}/{created['id']}"
    assert api.get(url, headers=writer).json()["methodUsabilityReason"] == "NotYetValid"
    # Tokens last an hour, so each moment gets a fresh one.
    clock.set(datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    assert api.get(url, headers=app_auth(WRITE)).json()["methodUsabilityReason"] == "EnabledByPolicy"
    clock.set(datetime(2026, 1, 1, 11, 0, tzinfo=UTC))
    expired = api.get(url, headers=app_auth(WRITE)).json()
    assert (expired["isUsable"], expired["methodUsabilityReason"]) == (False, "Expired")


def test_creation_is_refused_while_the_policy_is_disabled(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    set_policy(env, TapPolicy(state=PolicyState.DISABLED))
    before = snapshot(env)
    response = api.post(passes_url(ada.id), json={}, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert error["message"] == (
        "The Temporary Access Pass policy is disabled; enable it before creating passes."
    )
    assert snapshot(env) == before


def test_user_outside_the_targets_gets_a_pass_that_is_disabled_by_policy(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    group = make_group(env, "Onboarding")
    set_policy(env, TapPolicy(include_targets=(Target("group", group.id),)))
    created = api.post(passes_url(ada.id), json={}, headers=writer)
    assert created.status_code == 201, created.text
    assert (created.json()["isUsable"], created.json()["methodUsabilityReason"]) == (
        False,
        "DisabledByPolicy",
    )
    inside = make_user(env, "grace@contoso.example", groups=(group.id,))
    assert api.post(passes_url(inside.id), json={}, headers=writer).json()["isUsable"] is True


def test_a_new_pass_replaces_the_previous_one_and_both_are_audited(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    clock.advance(minutes=1)
    first = api.post(passes_url(ada.id), json={}, headers=writer).json()
    clock.advance(minutes=1)
    second = api.post(passes_url(ada.id), json={"lifetimeInMinutes": 90}, headers=writer).json()
    assert first["id"] != second["id"]
    listed = api.get(passes_url(ada.id), headers=writer).json()["value"]
    assert [p["id"] for p in listed] == [second["id"]]
    assert api.get(f"{passes_url(ada.id)}/{first['id']}", headers=writer).status_code == 404
    revoked = ("Invalidate all refresh tokens for user", "Sign-in sessions revoked: " + ISSUED)
    everything = audits_of(env, ada.id)
    assert [(e.activity_display_name, e.result_reason) for e in everything] == [
        ("Add user", ""),
        ("Admin registered security info", "Admin registered temporary access pass method for user"),
        revoked,
        ("Admin deleted security info", "Admin deleted temporary access pass method for user"),
        ("Admin registered security info", "Admin registered temporary access pass method for user"),
        revoked,
    ]
    entries = [e for e in everything if e.activity_display_name != revoked[0]]
    for entry in entries[1:]:
        assert (entry.category, entry.logged_by_service, entry.result) == (
            "UserManagement",
            "Authentication Methods",
            "success",
        )
        assert entry.initiated_by["app"] is not None and entry.initiated_by["user"] is None
        assert entry.target_resources[0]["userPrincipalName"] == "ada@contoso.example"
    assert [e.operation_type for e in entries[1:]] == ["Add", "Delete", "Add"]


def test_issuing_a_pass_revokes_the_users_sessions(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    # Recovery: a pass is what a user who lost a device gets, so what that device holds must end.
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    clock.advance(minutes=1)
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    response = api.get("/v1.0/me/authentication/methods", headers=own)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


# --- read and delete --------------------------------------------------------------------------


def test_list_and_get_show_metadata_but_never_the_pass(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    listed = api.get(passes_url(ada.id), headers=writer).json()
    assert listed["@odata.context"] == (
        f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/temporaryAccessPassMethods"
    )
    expected = {k: v for k, v in created.items() if k != "@odata.context"} | {"temporaryAccessPass": None}
    assert listed["value"] == [expected]
    one = api.get(f"{passes_url(ada.id)}/{created['id']}", headers=writer).json()
    assert one == expected | {"@odata.context": created["@odata.context"]}


def test_list_is_empty_for_a_user_without_a_pass(api: TestClient, writer: dict[str, str], ada: User) -> None:
    assert api.get(passes_url(ada.id), headers=writer).json()["value"] == []


def test_delete_returns_204_removes_the_pass_and_is_audited(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    response = api.delete(f"{passes_url(ada.id)}/{created['id']}", headers=writer)
    assert response.status_code == 204 and response.content == b""
    assert api.get(passes_url(ada.id), headers=writer).json()["value"] == []
    [deleted] = audits_of(env, ada.id, "Admin deleted security info")
    assert (deleted.result_reason, deleted.operation_type, deleted.category, deleted.logged_by_service) == (
        "Admin deleted temporary access pass method for user",
        "Delete",
        "UserManagement",
        "Authentication Methods",
    )


def test_deleting_a_usable_pass_revokes_the_users_sessions(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    clock.advance(minutes=1)
    assert api.delete(f"{passes_url(ada.id)}/{created['id']}", headers=writer).status_code == 204
    response = api.get("/v1.0/me/authentication/methods", headers=own)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


def test_deleting_an_expired_pass_keeps_the_users_sessions(
    api: TestClient, env: Env, writer: dict[str, str], app_auth: TokenFactory, ada: User, clock: ManualClock
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    clock.advance(minutes=61)
    own = user_auth(env, ada.id, "UserAuthenticationMethod.Read")
    clock.advance(minutes=1)
    deleted = api.delete(f"{passes_url(ada.id)}/{created['id']}", headers=app_auth(WRITE))
    assert deleted.status_code == 204
    assert api.get("/v1.0/me/authentication/methods", headers=own).status_code == 200


def test_method_id_matches_case_insensitively(api: TestClient, writer: dict[str, str], ada: User) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    response = api.get(f"{passes_url(ada.id)}/{created['id'].upper()}", headers=writer)
    assert response.status_code == 200 and response.json()["id"] == created["id"]


def test_unknown_method_id_is_404_item_not_found_and_changes_nothing(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    before = snapshot(env)
    ghost = str(uuid.uuid4())
    for method, url in (
        ("GET", f"{passes_url(ada.id)}/{ghost}"),
        ("DELETE", f"{passes_url(ada.id)}/{ghost}"),
        ("GET", f"/v1.0/users/{ada.id}/authentication/methods/{ghost}"),
    ):
        error = assert_graph_error(api.request(method, url, headers=writer), 404, "itemNotFound")
        assert ghost in error["message"]
    assert snapshot(env) == before


def test_another_users_pass_id_is_not_found_under_this_user(
    api: TestClient, env: Env, writer: dict[str, str], ada: User
) -> None:
    grace = make_user(env, "grace@contoso.example")
    theirs = api.post(passes_url(grace.id), json={}, headers=writer).json()
    before = snapshot(env)
    response = api.delete(f"{passes_url(ada.id)}/{theirs['id']}", headers=writer)
    assert_graph_error(response, 404, "itemNotFound")
    assert snapshot(env) == before


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", "/temporaryAccessPassMethods"),
        ("GET", "/temporaryAccessPassMethods"),
        ("GET", f"/temporaryAccessPassMethods/{uuid.UUID(int=1)}"),
        ("DELETE", f"/temporaryAccessPassMethods/{uuid.UUID(int=1)}"),
        ("GET", "/methods"),
        ("GET", f"/methods/{uuid.UUID(int=1)}"),
    ],
)
@pytest.mark.parametrize("ghost", ["ghost@contoso.example", "00000000-0000-0000-0000-00000000dead"])
def test_unknown_user_is_404_request_resource_not_found(
    api: TestClient, env: Env, app_auth: TokenFactory, method: str, suffix: str, ghost: str
) -> None:
    headers = app_auth(WRITE, "UserAuthenticationMethod.Read.All")
    before = snapshot(env)
    response = api.request(method, f"/v1.0/users/{ghost}/authentication{suffix}", headers=headers)
    error = assert_graph_error(response, 404, "Request_ResourceNotFound")
    assert ghost in error["message"]
    assert snapshot(env) == before


# --- the list of every method -----------------------------------------------------------------


def test_methods_list_holds_the_pass_typed_by_odata_type(
    api: TestClient, writer: dict[str, str], app_auth: TokenFactory, ada: User
) -> None:
    reader = app_auth("UserAuthenticationMethod.Read.All")
    empty = api.get(f"/v1.0/users/{ada.id}/authentication/methods", headers=reader).json()
    assert empty == {
        "@odata.context": f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/methods",
        "value": [],
    }
    created = api.post(passes_url(ada.id), json={}, headers=writer).json()
    listed = api.get(f"/v1.0/users/{ada.id}/authentication/methods", headers=reader).json()["value"]
    assert listed == [
        {k: v for k, v in created.items() if k != "@odata.context"} | {"temporaryAccessPass": None}
    ]
    one = api.get(f"/v1.0/users/{ada.id}/authentication/methods/{created['id']}", headers=reader).json()
    assert one["@odata.type"] == TAP_TYPE and one["temporaryAccessPass"] is None
    assert one["@odata.context"] == (
        f"{BASE}/v1.0/$metadata#users('{ada.id}')/authentication/methods/$entity"
    )


def test_methods_list_on_beta_carries_beta_fields(api: TestClient, writer: dict[str, str], ada: User) -> None:
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    listed = api.get(f"/beta/users/{ada.id}/authentication/methods", headers=writer).json()
    assert listed["@odata.context"].startswith(f"{BASE}/beta/$metadata#")
    assert listed["value"][0]["lastUsedDateTime"] is None


def test_start_time_far_ahead_is_kept(api: TestClient, writer: dict[str, str], ada: User) -> None:
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC) + timedelta(days=30)
    body = {"startDateTime": start.isoformat()}
    created = api.post(passes_url(ada.id), json=body, headers=writer).json()
    assert created["startDateTime"] == "2026-01-31T09:00:00Z"
