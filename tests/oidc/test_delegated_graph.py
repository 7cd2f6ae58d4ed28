"""Delegated access tokens from the code flow, used on Passbridge's Graph API: scopes and roles."""

from __future__ import annotations

from passbridge.clock import ManualClock
from passbridge.directory.service import DirectoryService
from passbridge.services.context import Env, operator
from passbridge.store.models import User
from tests.factories import make_user
from tests.oidc.conftest import Browser, RelyingParty, claims_of, issue_pass

TAP_WRITE = "https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All"


def delegated(env: Env, browser: Browser, rp: RelyingParty, upn: str, scope: str) -> dict[str, str]:
    """Headers with a delegated token obtained by `upn` signing in through the code flow."""
    browser.client.cookies.clear()
    code, auth = browser.code_for(rp, upn, issue_pass(env, upn), scope=f"openid {scope}")
    answer = browser.redeem(rp, code, auth)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def passes_url(user: User) -> str:
    return f"/v1.0/users/{user.id}/authentication/temporaryAccessPassMethods"


def test_delegated_token_carries_short_scopes_the_user_and_the_sign_in_strength(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    headers = delegated(env, browser, public_rp, helpdesk.user_principal_name, f"{TAP_WRITE} User.Read")
    claims = claims_of(env, headers["Authorization"].removeprefix("Bearer "))
    assert claims["scp"] == "openid UserAuthenticationMethod.ReadWrite.All User.Read"
    assert (claims["oid"], claims["idtyp"], claims["aud"]) == (helpdesk.id, "user", env.settings.base_url)
    assert (claims["amr"], claims["acr"], claims["azp"]) == (
        ["tap", "tap-multi-use", "mfa"],
        "mfa",
        public_rp.client_id,
    )
    me = browser.client.get("/v1.0/me", headers=headers)
    assert (me.status_code, me.json()["id"]) == (200, helpdesk.id)


def test_authentication_administrator_issues_a_pass_to_another_user_but_not_to_themselves(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    bob = make_user(env, "bob@contoso.example")
    headers = delegated(env, browser, public_rp, helpdesk.user_principal_name, TAP_WRITE)
    created = browser.client.post(passes_url(bob), json={}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["temporaryAccessPass"]
    own = browser.client.post(passes_url(helpdesk), json={}, headers=headers)
    assert own.status_code == 403
    assert own.json()["error"]["message"] == "You cannot create a Temporary Access Pass for yourself."


def test_the_scope_without_a_role_does_not_let_a_user_issue_passes(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    plain = make_user(env, "plain@contoso.example")
    bob = make_user(env, "bob@contoso.example")
    headers = delegated(env, browser, public_rp, plain.user_principal_name, TAP_WRITE)
    refused = browser.client.post(passes_url(bob), json={}, headers=headers)
    assert refused.status_code == 403
    assert "Authentication Administrator" in refused.json()["error"]["message"]


def test_a_role_without_the_scope_does_not_either(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    bob = make_user(env, "bob@contoso.example")
    headers = delegated(env, browser, public_rp, helpdesk.user_principal_name, "User.Read")
    assert browser.client.post(passes_url(bob), json={}, headers=headers).status_code == 403


def test_delegated_user_writes_need_the_user_administrator_role(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    plain = make_user(env, "plain@contoso.example")
    admin = make_user(env, "useradmin@contoso.example", roles=("User Administrator",))
    new_user = {"userPrincipalName": "carol@contoso.example", "displayName": "Carol", "accountEnabled": True}
    refused = browser.client.post(
        "/v1.0/users",
        json=new_user,
        headers=delegated(env, browser, public_rp, plain.user_principal_name, "User.ReadWrite.All"),
    )
    assert refused.status_code == 403
    assert "User Administrator" in refused.json()["error"]["message"]
    allowed_headers = delegated(env, browser, public_rp, admin.user_principal_name, "User.ReadWrite.All")
    created = browser.client.post("/v1.0/users", json=new_user, headers=allowed_headers)
    assert created.status_code == 201, created.text


def test_user_administrator_cannot_change_a_global_administrator(
    env: Env, browser: Browser, public_rp: RelyingParty, tenant: object
) -> None:
    admin = make_user(env, "useradmin@contoso.example", roles=("User Administrator",))
    headers = delegated(env, browser, public_rp, admin.user_principal_name, "User.ReadWrite.All")
    refused = browser.client.patch(
        "/v1.0/users/admin@contoso.example", json={"displayName": "Renamed"}, headers=headers
    )
    assert refused.status_code == 403
    peer = make_user(env, "peer@contoso.example", roles=("User Administrator",))
    assert (
        browser.client.patch(
            f"/v1.0/users/{peer.id}", json={"displayName": "Peer"}, headers=headers
        ).status_code
        == 204
    )


def test_delegated_group_writes_need_a_groups_role(
    env: Env, browser: Browser, public_rp: RelyingParty
) -> None:
    plain = make_user(env, "plain@contoso.example")
    groups_admin = make_user(env, "groups@contoso.example", roles=("Groups Administrator",))
    group = {"displayName": "Pilots", "mailEnabled": False, "securityEnabled": True, "mailNickname": "pilots"}
    refused = browser.client.post(
        "/v1.0/groups",
        json=group,
        headers=delegated(env, browser, public_rp, plain.user_principal_name, "Group.ReadWrite.All"),
    )
    assert refused.status_code == 403
    created = browser.client.post(
        "/v1.0/groups",
        json=group,
        headers=delegated(env, browser, public_rp, groups_admin.user_principal_name, "Group.ReadWrite.All"),
    )
    assert created.status_code == 201, created.text


def test_disabling_the_user_stops_their_delegated_token_at_the_next_call(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty
) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example", roles=("Authentication Administrator",))
    headers = delegated(env, browser, public_rp, helpdesk.user_principal_name, "User.Read")
    assert browser.client.get("/v1.0/me", headers=headers).status_code == 200
    clock.advance(seconds=1)
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).set_account_enabled(helpdesk.id, False)
    assert browser.client.get("/v1.0/me", headers=headers).status_code == 401


def test_revoking_sessions_stops_delegated_tokens_issued_before(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty
) -> None:
    helpdesk = make_user(env, "helpdesk@contoso.example")
    headers = delegated(env, browser, public_rp, helpdesk.user_principal_name, "User.Read")
    clock.advance(seconds=1)
    with env.db.transaction() as tx:
        tx.session.get(User, helpdesk.id).sessions_valid_from = clock.now()  # type: ignore[union-attr]
    assert browser.client.get("/v1.0/me", headers=headers).status_code == 401
