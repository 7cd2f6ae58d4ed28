"""Refresh tokens: rotation, reuse detection, the pass cap, and revocation through the directory."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select, update

from passbridge.clock import ManualClock
from passbridge.directory.service import DirectoryService
from passbridge.oidc.grants import OidcServer
from passbridge.oidc.provider import FormRequest, Unit
from passbridge.services.context import Env, operator
from passbridge.store.models import Application, RefreshTokenRow, User
from tests.oidc.conftest import ADA, BASE, Browser, RelyingParty, claims_of, issue_pass


def tokens_for(env: Env, browser: Browser, rp: RelyingParty, *, scope: str = "openid profile offline_access",
               lifetime: int | None = None) -> dict[str, str]:  # fmt: skip
    code, auth = browser.code_for(rp, ADA, issue_pass(env, ADA, lifetime=lifetime), scope=scope)
    answer = browser.redeem(rp, code, auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


def rows(env: Env) -> list[RefreshTokenRow]:
    with env.db.transaction("read") as tx:
        return list(tx.session.scalars(select(RefreshTokenRow).order_by(RefreshTokenRow.created_at)))


def test_each_refresh_returns_a_new_refresh_token_and_retires_the_old(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    clock.advance(minutes=1)
    second = browser.refresh(public_rp, first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == "openid profile offline_access"
    old, new = rows(env)
    assert old.used_at == clock.now() and new.used_at is None
    assert old.family_id == new.family_id
    third = browser.refresh(public_rp, body["refresh_token"])
    assert third.status_code == 200


def test_refresh_gives_an_id_token_with_the_original_sign_in_facts(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    signed_in = claims_of(env, first["id_token"])
    clock.advance(minutes=5)
    refreshed = claims_of(env, browser.refresh(public_rp, first["refresh_token"]).json()["id_token"])
    assert refreshed["sub"] == signed_in["sub"]
    assert refreshed["auth_time"] == signed_in["auth_time"]
    assert refreshed["amr"] == ["tap", "tap-multi-use", "mfa"]
    assert refreshed["iat"] == signed_in["iat"] + 300
    assert "nonce" not in refreshed


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    second = browser.refresh(public_rp, first["refresh_token"]).json()
    replayed = browser.refresh(public_rp, first["refresh_token"])
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert replayed.json()["error_codes"] == [50173]
    # The legitimate holder's current token died with the family.
    current = browser.refresh(public_rp, second["refresh_token"])
    assert (current.status_code, current.json()["error"]) == (400, "invalid_grant")
    assert all(r.revoked_at is not None for r in rows(env))


def test_a_refresh_token_is_bound_to_its_client(
    env: Env, browser: Browser, public_rp: RelyingParty, confidential_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    stolen = browser.refresh(confidential_rp, first["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"
    assert browser.refresh(public_rp, first["refresh_token"]).status_code == 200


def test_refresh_tokens_access_token_carries_the_same_pairwise_sub_as_the_id_token(
    env: Env, browser: Browser, public_rp: RelyingParty, confidential_rp: RelyingParty, ada: User
) -> None:
    refreshed = browser.refresh(public_rp, tokens_for(env, browser, public_rp)["refresh_token"]).json()
    sub = claims_of(env, refreshed["id_token"])["sub"]
    assert claims_of(env, refreshed["access_token"])["sub"] == sub
    other = browser.refresh(confidential_rp, tokens_for(env, browser, confidential_rp)["refresh_token"])
    assert claims_of(env, other.json()["id_token"])["sub"] != sub  # pairwise: per application


def test_a_refresh_from_an_unknown_or_removed_client_is_invalid_client_and_keeps_the_token(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    for client_id in ("00000000-0000-0000-0000-000000000000", "not-a-guid"):
        answer = browser.refresh(RelyingParty(client_id, None), first["refresh_token"])
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
        assert answer.json()["error_codes"] == [700016]
    assert [row.used_at for row in rows(env)] == [None]  # nothing was consumed
    with env.db.transaction() as tx:
        tx.session.execute(delete(Application).where(Application.app_id == public_rp.client_id))
    gone = browser.refresh(public_rp, first["refresh_token"])
    assert gone.status_code == 401 and gone.json()["error_codes"] == [700016]


def test_a_confidential_client_with_a_wrong_secret_cannot_use_its_refresh_token(
    env: Env, browser: Browser, confidential_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, confidential_rp)
    wrong = RelyingParty(confidential_rp.client_id, "wrong-secret-" + "w" * 30)
    answer = browser.refresh(wrong, first["refresh_token"])
    assert answer.status_code == 401 and answer.json()["error_codes"] == [7000215]
    assert [row.used_at for row in rows(env)] == [None]
    assert browser.refresh(confidential_rp, first["refresh_token"]).status_code == 200


def test_the_refresh_grant_reads_its_client_and_its_token_each_once_through_their_own_hooks(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    """`query_client` reads the application alone and `authenticate_refresh_token` the token: no hook
    reads another's data ahead for it (issue 12: no memo shared between Authlib's hooks)."""
    value = tokens_for(env, browser, public_rp)["refresh_token"]
    form = {"grant_type": ["refresh_token"], "client_id": [public_rp.client_id], "refresh_token": [value]}
    request = FormRequest(f"{BASE}/oauth2/v2.0/token", {}, form, trace_id="t", correlation_id="c")
    statements: list[str] = []
    with env.db.transaction() as tx:
        if tx.dialect != "sqlite":
            pytest.skip("SQLite's trace callback lists the statements run")
        driver = tx.connection().connection.driver_connection
        assert driver is not None
        driver.set_trace_callback(statements.append)
        try:
            response = OidcServer().token_response(Unit(tx, env), request)
        finally:
            driver.set_trace_callback(None)
    assert response.status_code == 200, response.body
    selects = [s.lower() for s in statements if s.lstrip().lower().startswith("select")]
    client_reads = [s for s in selects if "from application" in s]
    token_reads = [s for s in selects if "from refresh_token" in s]
    assert len(client_reads) == 1 and "refresh_token" not in client_reads[0]
    assert len(token_reads) == 1 and "application" not in token_reads[0]


def test_refresh_may_narrow_the_scope_but_not_widen_it(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp, scope="openid offline_access User.Read")
    wider = browser.refresh(public_rp, first["refresh_token"], scope="openid User.Read.All")
    assert wider.json()["error"] == "invalid_scope"
    narrower = browser.refresh(
        public_rp, first["refresh_token"], scope="https://graph.microsoft.com/User.Read"
    )
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "User.Read"
    assert "id_token" not in narrower.json()


def test_tokens_from_a_pass_sign_in_end_with_the_pass(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    start = clock.now()
    first = tokens_for(env, browser, public_rp, lifetime=70)  # the pass ends at start + 70 minutes
    pass_end = int((start + timedelta(minutes=70)).timestamp())
    clock.advance(minutes=30)
    body = browser.refresh(public_rp, first["refresh_token"]).json()
    # 60-minute tokens, cut to the 40 minutes the pass has left.
    assert body["expires_in"] == 40 * 60
    assert claims_of(env, body["access_token"])["exp"] == pass_end
    assert claims_of(env, body["id_token"])["exp"] == pass_end
    assert rows(env)[-1].expires_at == start + timedelta(minutes=70)
    clock.advance(minutes=40)
    expired = browser.refresh(public_rp, body["refresh_token"])
    assert (expired.json()["error"], expired.json()["error_codes"]) == ("invalid_grant", [700082])


def test_refresh_is_refused_once_the_user_is_disabled(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    with env.db.transaction() as tx:
        DirectoryService(tx, env, operator()).set_account_enabled(ada.id, False)
    refused = browser.refresh(public_rp, first["refresh_token"])
    assert (refused.json()["error"], refused.json()["error_codes"]) == ("invalid_grant", [50057])


def test_refresh_is_refused_after_the_users_sessions_are_revoked(
    env: Env, clock: ManualClock, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    first = tokens_for(env, browser, public_rp)
    clock.advance(seconds=1)
    with env.db.transaction() as tx:
        tx.session.get(User, ada.id).sessions_valid_from = clock.now()  # type: ignore[union-attr]
    refused = browser.refresh(public_rp, first["refresh_token"])
    assert (refused.json()["error"], refused.json()["error_codes"]) == ("invalid_grant", [50173])


@pytest.mark.parametrize("token", ["", "x" * 300, "not-a-token"])
def test_unknown_or_malformed_refresh_tokens_are_invalid_grant(
    env: Env, browser: Browser, public_rp: RelyingParty, token: str
) -> None:
    answer = browser.refresh(public_rp, token)
    assert answer.status_code == 400
    assert answer.json()["error"] in ("invalid_grant", "invalid_request")
    if token:
        assert answer.json()["error"] == "invalid_grant"


def test_a_refresh_that_must_wait_for_a_lock_does_not_block_the_event_loop(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    """On SQLite the grant awaits a free write lock on the loop (store/runner.py `write`); on PostgreSQL
    it waits in the threadpool (where this holds the token rows' locks): the loop keeps answering
    while the grant waits."""
    first = tokens_for(env, browser, public_rp)
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with env.db.transaction() as tx:
            tx.execute(update(RefreshTokenRow).values(acr=RefreshTokenRow.acr))
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(10)
    answers: list[httpx.Response] = []
    refresher = threading.Thread(
        target=lambda: answers.append(browser.refresh(public_rp, first["refresh_token"]))
    )
    refresher.start()
    try:
        time.sleep(0.3)
        assert not answers  # waiting for the lock...
        started = time.monotonic()
        assert browser.client.get("/healthz").status_code == 200  # ...but not on the loop
        assert time.monotonic() - started < 2
    finally:
        release.set()
        holder.join(10)
        refresher.join(30)
    [answer] = answers
    assert answer.status_code == 200, answer.text
    assert browser.refresh(public_rp, answer.json()["refresh_token"]).status_code == 200


def test_the_token_response_is_compact_utf8_json_as_json_dumps_writes_it(
    env: Env, browser: Browser, public_rp: RelyingParty, ada: User
) -> None:
    answer = browser.refresh(public_rp, tokens_for(env, browser, public_rp)["refresh_token"])
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == json.dumps(answer.json(), ensure_ascii=False, separators=(",", ":")).encode()
