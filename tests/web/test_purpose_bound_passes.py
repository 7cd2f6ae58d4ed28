"""Purpose-bound passes through the pages (docs/purpose-bound-passes.md): an enrol or recover pass opens
security info and nothing else; a one-time one burns when the first method is registered, not at sign-in;
a recover pass signs the lost devices out and offers to remove the lost methods; the policy can revoke a
reusable pass once its holder has a passkey."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.logs.audit import list_entries
from passbridge.passes.policy import PolicyService, TapChanges
from passbridge.passes.rules import BURN_ATTEMPTS, PassRequest, Purpose
from passbridge.passes.service import IssuedPass, TapService
from passbridge.services.context import Env, operator
from passbridge.store.models import Fido2Credential, TemporaryAccessPass, User, UserSession
from tests.factories import make_passkey
from tests.softkey import SoftAuthenticator
from tests.web.conftest import BASE, browser, csrf_of, issue, sign_in


def _issue(env: Env, upn: str, purpose: Purpose, *, one_time: bool = True) -> IssuedPass:
    with env.db.transaction() as tx:
        wanted = PassRequest(is_usable_once=one_time, purpose=purpose)
        return TapService(tx, env, operator()).issue(upn, wanted)


def _pass_state(env: Env, pass_id: str) -> tuple[bool, int] | None:
    """(used up, attempts) of the pass, None once it is gone."""
    with env.db.transaction("read") as tx:
        row = tx.session.get(TemporaryAccessPass, pass_id)
        return None if row is None else (row.used_at is not None, row.attempts)


def _begin_passkey(web: TestClient) -> tuple[str, dict[str, object]]:
    csrf = csrf_of(web.get("/security-info").text)
    options = web.post("/security-info/passkeys/options", data={"csrf_token": csrf})
    assert options.status_code == 200, options.text
    return csrf, options.json()


def _add_passkey(web: TestClient, key: SoftAuthenticator, name: str = "New laptop") -> None:
    csrf, data = _begin_passkey(web)
    done = web.post(
        "/security-info/passkeys",
        data={
            "csrf_token": csrf,
            "ceremony_id": str(data["ceremonyId"]),
            "credential": key.create(data["publicKey"]),  # type: ignore[arg-type]
            "name": name,
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/security-info?done=passkey"), done.text


def _user(env: Env, upn: str) -> User:
    with env.db.transaction("read") as tx:
        user = tx.session.scalars(select(User).where(User.user_principal_name == upn)).one()
        tx.session.expunge(user)
        return user


def test_an_enrol_pass_opens_security_info_and_no_apps_nor_the_admin_portal(
    env: Env, web: TestClient, ada: str
) -> None:
    steps = sign_in(web, ada, _issue(env, ada, Purpose.ENROL).value)
    assert (steps.proved.status_code, steps.proved.headers["location"]) == (303, "/setup-methods")
    apps = web.get("/apps")
    assert "Your pass only sets up sign-in methods" in apps.text and "/admin" not in apps.text
    assert 'id="set-up-only"' in web.get("/security-info").text


def test_an_enrol_pass_of_someone_who_has_a_passkey_leads_straight_to_security_info(
    env: Env, web: TestClient, ada: str
) -> None:
    make_passkey(env, _user(env, ada))
    steps = sign_in(web, ada, _issue(env, ada, Purpose.ENROL).value)
    assert (steps.proved.status_code, steps.proved.headers["location"]) == (303, "/security-info")


def test_a_one_time_enrol_pass_is_not_used_up_by_signing_in_but_by_the_first_passkey(
    env: Env, web: TestClient, ada: str
) -> None:
    issued = _issue(env, ada, Purpose.ENROL)
    sign_in(web, ada, issued.value)
    assert _pass_state(env, issued.view.id) == (False, 1)
    # A cancelled ceremony (options fetched, never answered) consumes nothing.
    _begin_passkey(web)
    assert _pass_state(env, issued.view.id) == (False, 2)
    _add_passkey(web, SoftAuthenticator(BASE))
    used, _ = _pass_state(env, issued.view.id) or (False, 0)
    assert used
    # Used up: it signs nobody in again, but the session goes on to add more methods.
    with browser(env) as other:
        again = sign_in(other, ada, issued.value)
        assert again.proved.status_code == 401
    assert web.get("/security-info").status_code == 200


def test_signing_in_again_with_an_unburned_pass_ends_the_session_it_opened_before(
    env: Env, web: TestClient, ada: str
) -> None:
    issued = _issue(env, ada, Purpose.ENROL)
    sign_in(web, ada, issued.value)
    with browser(env) as second:
        assert sign_in(second, ada, issued.value).proved.status_code == 303
        assert second.get("/security-info").status_code == 200
    # The first browser (a crashed one, or an intruder's) is signed out.
    assert web.get("/security-info").status_code == 303
    with env.db.transaction("read") as tx:
        open_sessions = tx.session.scalars(select(UserSession).where(UserSession.ended_at.is_(None))).all()
        assert len(open_sessions) == 1


def test_a_one_time_enrol_pass_is_spent_after_its_attempts_without_a_registration(
    env: Env, web: TestClient, ada: str
) -> None:
    issued = _issue(env, ada, Purpose.ENROL)
    sign_in(web, ada, issued.value)
    for _ in range(BURN_ATTEMPTS - 1):
        _begin_passkey(web)
    csrf = csrf_of(web.get("/security-info").text)
    refused = web.post("/security-info/passkeys/options", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "too many attempts" in refused.text
    with browser(env) as other:
        assert sign_in(other, ada, issued.value).proved.status_code == 401


def test_a_sign_in_pass_still_burns_at_sign_in(env: Env, web: TestClient, ada: str) -> None:
    issued = _issue(env, ada, Purpose.SIGN_IN)
    sign_in(web, ada, issued.value)
    assert _pass_state(env, issued.view.id) == (True, 0)


def _passkey_sign_in(client: TestClient, key: SoftAuthenticator) -> None:
    login = client.get("/login?another=1")
    csrf = csrf_of(login.text)
    options = client.post("/login/passkey/options", data={"csrf_token": csrf, "return_to": ""})
    assert options.status_code == 200, options.text
    answer = key.get(options.json()["publicKey"])
    done = client.post(
        "/login/passkey",
        data={"csrf_token": csrf, "ceremony_id": options.json()["ceremonyId"], "credential": answer},
    )
    assert done.status_code == 303, done.text


def test_a_recover_pass_signs_other_sessions_out_and_offers_to_remove_the_lost_passkey(
    env: Env, web: TestClient, ada: str
) -> None:
    lost_key = SoftAuthenticator(BASE)
    with browser(env) as thief:
        sign_in(thief, ada, issue(env, ada).value)
        _add_passkey(thief, lost_key, name="Lost phone")
        env.clock.advance(seconds=5)  # type: ignore[attr-defined]
        recover = _issue(env, ada, Purpose.RECOVER)
        # Whoever holds the lost phone signs in with it after the recovery pass was issued.
        _passkey_sign_in(thief, lost_key)
        assert thief.get("/apps").status_code == 200
        env.clock.advance(seconds=5)  # type: ignore[attr-defined]
        sign_in(web, ada, recover.value)
        page = web.get("/security-info")
        assert 'id="lost-methods"' not in page.text  # offered only once a new method is there
        _add_passkey(web, SoftAuthenticator(BASE))
        assert thief.get("/apps").status_code == 303  # signed out
    page = web.get("/security-info?done=passkey")
    assert 'id="lost-methods"' in page.text and "Lost phone" in page.text
    with env.db.transaction("read") as tx:
        lost_id = tx.session.scalars(
            select(Fido2Credential.id).where(Fido2Credential.display_name == "Lost phone")
        ).one()
    removed = web.post(
        "/security-info/remove-lost", data={"csrf_token": csrf_of(page.text), f"remove-{lost_id}": "yes"}
    )
    assert (removed.status_code, removed.headers["location"]) == (303, "/security-info?done=removed-lost")
    with env.db.transaction("read") as tx:
        names = [k.display_name for k in tx.session.scalars(select(Fido2Credential))]
    assert names == ["New laptop"]
    assert 'id="lost-methods"' not in web.get("/security-info").text
    with env.db.transaction("read") as tx:
        activities = [e.activity_display_name for e in list_entries(tx)]
    assert "User recovered their account" in activities


def test_removing_lost_methods_needs_a_tick(env: Env, web: TestClient, ada: str) -> None:
    make_passkey(env, _user(env, ada), display_name="Lost phone")
    env.clock.advance(seconds=5)  # type: ignore[attr-defined]
    sign_in(web, ada, _issue(env, ada, Purpose.RECOVER).value)
    _add_passkey(web, SoftAuthenticator(BASE))
    csrf = csrf_of(web.get("/security-info").text)
    response = web.post("/security-info/remove-lost", data={"csrf_token": csrf})
    assert response.status_code == 400 and "Tick the methods you lost" in response.text


def test_the_policy_revokes_a_reusable_pass_once_its_holder_registers_a_passkey(
    env: Env, web: TestClient, ada: str
) -> None:
    with env.db.transaction() as tx:
        PolicyService(tx, env, operator()).update_tap(TapChanges(revoke_multi_use_after_passkey=True))
    issued = issue(env, ada)  # reusable, for signing in
    sign_in(web, ada, issued.value)
    _add_passkey(web, SoftAuthenticator(BASE))
    assert _pass_state(env, issued.view.id) is None
    with env.db.transaction("read") as tx:
        reasons = [e.result_reason for e in list_entries(tx)]
    assert any("revokeMultiUseAfterPasskey" in r for r in reasons)


def test_without_the_switch_a_reusable_pass_outlives_the_passkey(env: Env, web: TestClient, ada: str) -> None:
    issued = issue(env, ada)
    sign_in(web, ada, issued.value)
    _add_passkey(web, SoftAuthenticator(BASE))
    assert _pass_state(env, issued.view.id) is not None
