"""Revoking sign-in sessions: Graph's revokeSignInSessions, and the recovery rule that an administrator
deleting a user's passkey or authenticator app, or issuing them a pass, ends the user's sign-ins."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from passbridge.clock import ManualClock
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.passwordless_helpers import (
    WRITE,
    fido2_url,
    oath_url,
    open_session,
    session_state,
    store_snapshot,
)
from tests.api.tap_helpers import audits_of, passes_url, user_auth
from tests.api.test_graph_errors import assert_graph_error
from tests.factories import make_authenticator_app, make_passkey, make_user

ACTIVITY = "Invalidate all refresh tokens for user"
OWN_READ = "UserAuthenticationMethod.Read"


def _revoked_everything(api: TestClient, env: Env, ids: tuple[str, str | None], own: dict[str, str]) -> None:
    ended, revoked = session_state(env, *ids)
    assert ended is not None and revoked is not None
    assert_graph_error(
        api.get("/v1.0/me/authentication/methods", headers=own), 401, "InvalidAuthenticationToken"
    )


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("fido2", "an administrator deleted a passkey (FIDO2)"),
        ("oath", "an administrator deleted an authenticator app (software OATH)"),
    ],
)
def test_an_administrator_deleting_a_method_ends_the_users_sessions_tokens_and_delegated_access(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock, kind: str, what: str
) -> None:
    made = make_passkey(env, ada) if kind == "fido2" else make_authenticator_app(env, ada)
    ids = open_session(env, ada)
    own = user_auth(env, ada.id, OWN_READ)
    clock.advance(seconds=5)
    url = (fido2_url if kind == "fido2" else oath_url)(ada.id)
    assert api.delete(f"{url}/{made.id}", headers=writer).status_code == 204
    _revoked_everything(api, env, ids, own)
    [entry] = audits_of(env, ada.id, ACTIVITY)
    assert entry.result_reason == f"Sign-in sessions revoked: {what}"
    assert (entry.category, entry.operation_type) == ("UserManagement", "Update")


def test_issuing_a_pass_ends_the_users_sessions_and_refresh_tokens(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    ids = open_session(env, ada)
    own = user_auth(env, ada.id, OWN_READ)
    clock.advance(seconds=5)
    assert api.post(passes_url(ada.id), json={}, headers=writer).status_code == 201
    _revoked_everything(api, env, ids, own)
    [entry] = audits_of(env, ada.id, ACTIVITY)
    assert entry.result_reason == "Sign-in sessions revoked: an administrator issued a Temporary Access Pass"


def test_a_user_deleting_their_own_passkey_keeps_their_sessions(
    api: TestClient, env: Env, ada: User, clock: ManualClock
) -> None:
    passkey = make_passkey(env, ada)
    ids = open_session(env, ada)
    own = user_auth(env, ada.id, "UserAuthenticationMethod.ReadWrite")
    clock.advance(seconds=5)
    assert api.delete(f"/v1.0/me/authentication/fido2Methods/{passkey.id}", headers=own).status_code == 204
    assert session_state(env, *ids) == (None, None)
    assert api.get("/v1.0/me/authentication/methods", headers=own).status_code == 200


def test_revocation_leaves_other_users_alone(
    api: TestClient, env: Env, writer: dict[str, str], ada: User, clock: ManualClock
) -> None:
    grace = make_user(env, "grace@contoso.example")
    ids = open_session(env, grace)
    passkey = make_passkey(env, ada)
    clock.advance(seconds=5)
    assert api.delete(f"{fido2_url(ada.id)}/{passkey.id}", headers=writer).status_code == 204
    assert session_state(env, *ids) == (None, None)


# --- revokeSignInSessions ----------------------------------------------------------------------------


@pytest.mark.parametrize("permission", ["User.RevokeSessions.All", "User.ReadWrite.All"])
@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_revoke_sign_in_sessions_answers_graphs_boolean_and_ends_everything(
    api: TestClient,
    env: Env,
    app_auth: TokenFactory,
    ada: User,
    clock: ManualClock,
    permission: str,
    version: str,
) -> None:
    ids = open_session(env, ada)
    own = user_auth(env, ada.id, OWN_READ)
    clock.advance(seconds=5)
    response = api.post(
        f"/{version}/users/ada@contoso.example/revokeSignInSessions", headers=app_auth(permission)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "@odata.context": f"http://localhost:8000/{version}/$metadata#Edm.Boolean",
        "value": True,
    }
    _revoked_everything(api, env, ids, own)
    [entry] = audits_of(env, ada.id, ACTIVITY)
    assert entry.initiated_by["app"] is not None and entry.logged_by_service == "Core Directory"


@pytest.mark.parametrize("permissions", [(), (WRITE,), ("User.Read.All",)])
def test_revoke_without_permission_is_403_and_changes_nothing(
    api: TestClient, env: Env, app_auth: TokenFactory, ada: User, permissions: tuple[str, ...]
) -> None:
    open_session(env, ada)
    headers = app_auth(*permissions)
    before = store_snapshot(env)
    for user in (ada.id, str(uuid.uuid4())):
        response = api.post(f"/v1.0/users/{user}/revokeSignInSessions", headers=headers)
        error = assert_graph_error(response, 403, "Authorization_RequestDenied")
        assert "User.RevokeSessions.All" in error["message"]
    assert store_snapshot(env) == before


def test_revoke_for_an_unknown_user_is_404_request_resource_not_found(
    api: TestClient, env: Env, app_auth: TokenFactory
) -> None:
    headers = app_auth("User.RevokeSessions.All")
    before = store_snapshot(env)
    response = api.post(f"/v1.0/users/{uuid.uuid4()}/revokeSignInSessions", headers=headers)
    assert_graph_error(response, 404, "Request_ResourceNotFound")
    assert store_snapshot(env) == before


def test_me_revoke_sign_in_sessions_ends_the_callers_own_sessions(
    api: TestClient, env: Env, ada: User, clock: ManualClock
) -> None:
    ids = open_session(env, ada)
    own = user_auth(env, ada.id, "User.RevokeSessions.All", OWN_READ)
    clock.advance(seconds=5)
    response = api.post("/v1.0/me/revokeSignInSessions", headers=own)
    assert response.status_code == 200 and response.json()["value"] is True
    _revoked_everything(api, env, ids, own)
    [entry] = audits_of(env, ada.id, ACTIVITY)
    assert entry.result_reason == "User revoked their own sign-in sessions"


def test_me_revoke_with_an_application_token_is_400(api: TestClient, app_auth: TokenFactory) -> None:
    response = api.post("/v1.0/me/revokeSignInSessions", headers=app_auth("User.RevokeSessions.All"))
    assert_graph_error(response, 400, "BadRequest")


@pytest.mark.parametrize(
    ("caller_role", "target_roles", "allowed"),
    [
        ("Global Administrator", ("Global Administrator",), True),
        ("Privileged Authentication Administrator", ("Global Administrator",), True),
        ("User Administrator", (), True),
        ("User Administrator", ("Groups Administrator",), True),
        ("User Administrator", ("Global Administrator",), False),
        ("Authentication Administrator", (), True),
        ("Authentication Administrator", ("Global Reader",), False),
        ("Global Reader", (), False),
        ("Groups Administrator", (), False),
        (None, (), False),
    ],
)
def test_delegated_revocation_needs_user_administrator_or_up_by_tier(
    api: TestClient, env: Env, caller_role: str | None, target_roles: tuple[str, ...], allowed: bool
) -> None:
    caller = make_user(env, roles=(caller_role,) if caller_role else ())
    target = make_user(env, roles=target_roles)
    open_session(env, target)
    before = store_snapshot(env)
    response = api.post(
        f"/v1.0/users/{target.id}/revokeSignInSessions",
        headers=user_auth(env, caller.id, "User.RevokeSessions.All"),
    )
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert_graph_error(response, 403, "Authorization_RequestDenied")
        assert store_snapshot(env) == before
